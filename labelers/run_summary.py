"""One run summary from the summaries of a sharded label run's shards."""

from __future__ import annotations

from collections import Counter
from typing import Any


def merge_summaries(summaries: list[dict[str, Any]], seconds: float) -> dict[str, Any]:
    """One run summary from the summaries of its shards, with the keys of one.

    Counts add up; `seconds` is the run's wall time. A labeler's own figures (a judge's
    consistency) are averaged over shards weighted by labeled items, counts among them summed.
    """
    if len(summaries) == 1:
        return summaries[0]
    merged = dict(summaries[0])
    for key in ("items", "labeled", "cached", "errors"):
        merged[key] = sum(summary[key] for summary in summaries)
    reasons = Counter()
    for summary in summaries:
        reasons.update(summary["errors_by_reason"])
    merged["errors_by_reason"] = dict(reasons.most_common())
    skipped = Counter()
    for summary in summaries:
        skipped.update(summary.get("skipped", {}))
    if skipped:
        merged["skipped"] = dict(skipped.most_common())
    for key in dict.fromkeys(k for summary in summaries for k in summary if k not in _RUN_KEYS):
        merged[key] = _merge_figure([(s.get(key), s["labeled"]) for s in summaries])
    batches = [summary["batch"] for summary in summaries if "batch" in summary]
    if batches:  # each shard sent and collected its own batches
        merged["batch"] = {
            key: (sum if isinstance(value, int) else _joined)(b[key] for b in batches)
            for key, value in batches[0].items()
        }
        merged["batch"]["requests_in_flight"] = max(b["requests_in_flight"] for b in batches)
    for key in _DOLLARS & set(merged):  # spending adds up; one unknown cost makes it unknown
        values = [summary.get(key) for summary in summaries]
        merged[key] = None if None in values else round(sum(values), 9)
    done = merged["labeled"] + merged["errors"]
    merged["seconds"] = round(seconds, 3)
    merged["items_per_s"] = round(done / seconds, 2) if done and seconds else None
    return merged


_RUN_KEYS = {"command", "labeler", "fingerprint", "items", "labeled", "cached", "errors"}
_RUN_KEYS |= {"errors_by_reason", "skipped", "seconds", "items_per_s"}
_DOLLARS = {"cost_usd", "budget_usd", "spent_usd"}


def _joined(lists: Any) -> list[Any]:
    return [item for items in lists for item in items]


def _merge_figure(values: list[tuple[Any, int]]) -> Any:
    present = [(value, weight) for value, weight in values if value is not None]
    if not present:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v, _ in present):
        return sum(v for v, _ in present)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v, _ in present):
        total = sum(w for _, w in present)
        if not total:
            return round(sum(v for v, _ in present) / len(present), 4)
        return round(sum(v * w for v, w in present) / total, 4)
    return present[0][0]
