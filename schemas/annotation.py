"""Label Studio tasks and results, as pure data (no server here).

A task shows one prompt (its whole conversation) and 2..N candidates: ranked best
first in the Ranker template, or two side by side in the Pairwise one. Each task
carries a `task_key` (prompt id and candidate ids), so a re-push finds what the
project already holds. Annotations come back as human labels, one per annotator:
kind `ranking` (scores N-1..0, best first) or `pairwise` ([1, 0] / [0, 1]).
Several annotators' labels on one item aggregate by Borda count (rankings) or
majority vote (pairs); a tie stays a tie.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from prefsmith.schemas import ids

HUMAN_LABELER = "human:label-studio"
TEMPLATES = ("ranker", "pairwise")


def task_key(prompt_id: str, candidate_ids: Sequence[str]) -> str:
    return ids.hash_key("\x1f".join([prompt_id, *sorted(candidate_ids)]))


def build_task(
    template: str,
    prompt_id: str,
    messages: Sequence[Mapping[str, str]],
    candidates: Sequence[tuple[str, str]],
    predictions: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """One import item: `data` for the template, plus model predictions (pre-annotations)."""
    candidate_ids = [cid for cid, _ in candidates]
    data: dict[str, Any] = {
        "task_key": task_key(prompt_id, candidate_ids),
        "prompt_id": prompt_id,
        "candidate_ids": candidate_ids,
        "dialogue": [{"role": m["role"], "content": m["content"]} for m in messages],
    }
    if template == "ranker":
        data["candidates"] = [
            {"id": cid, "title": f"Response {i + 1}", "body": text}
            for i, (cid, text) in enumerate(candidates)
        ]
    else:
        (_, data["answer_a"]), (_, data["answer_b"]) = candidates
    return {"data": data, "predictions": list(predictions)}


def prediction(
    template: str, model_version: str, candidate_ids: Sequence[str], scores: Sequence[float]
) -> dict[str, Any]:
    """A model's opinion as a pre-annotation: its ranking, or the side it prefers."""
    if template == "ranker":
        order = [cid for _, cid in sorted(zip(scores, candidate_ids, strict=True), reverse=True)]
        value = {"ranker": {"rank": order}}
        result = {"from_name": "rank", "to_name": "candidates", "type": "ranker", "value": value}
    else:
        side = "left" if scores[0] >= scores[1] else "right"
        result = {
            "from_name": "pairwise", "to_name": "answer_a", "type": "pairwise",
            "value": {"selected": side},
        }  # fmt: skip
    return {"model_version": model_version, "score": float(max(scores)), "result": [result]}


def read_annotation(template: str, data: Mapping[str, Any], result: Sequence[Mapping]) -> Any:
    """Candidate ids best first (ranker), or the winning id (pairwise); None if unanswered."""
    for region in result:
        value = region.get("value", {})
        if template == "ranker" and region.get("type") == "ranker":
            lists = list(value.get("ranker", {}).values())
            order = lists[0] if len(lists) == 1 else value["ranker"].get("rank")
            if order and set(order) == set(data["candidate_ids"]):
                return list(order)
        if template == "pairwise" and region.get("type") == "pairwise":
            selected = value.get("selected")
            if selected in ("left", "right"):
                return data["candidate_ids"][0 if selected == "left" else 1]
    return None


def label_scores(template: str, candidate_ids: Sequence[str], answer: Any) -> list[float]:
    """Scores aligned with `candidate_ids`, higher is better."""
    if template == "ranker":
        points = {cid: float(len(answer) - 1 - i) for i, cid in enumerate(answer)}
        return [points[cid] for cid in candidate_ids]
    return [1.0 if cid == answer else 0.0 for cid in candidate_ids]


def aggregate(labels: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One label per item from several annotators': Borda count for rankings (the summed
    points), majority vote for pairs ([0.5, 0.5] when the vote is tied)."""
    grouped: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for label in labels:
        if not label.get("error") and label.get("scores"):
            grouped[(label["prompt_id"], tuple(label["candidate_ids"]))].append(label)
    combined = []
    for (_, candidate_ids), group in grouped.items():
        totals = [sum(label["scores"][i] for label in group) for i in range(len(candidate_ids))]
        if group[0]["kind"] == "pairwise" and totals[0] == totals[1]:
            totals = [0.5, 0.5]
        elif group[0]["kind"] == "pairwise":
            totals = [1.0, 0.0] if totals[0] > totals[1] else [0.0, 1.0]
        combined.append({**group[0], "scores": totals, "fingerprint": "aggregate", "error": None})
    return combined
