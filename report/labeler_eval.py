"""How good is each labeler, against gold labels (usually human ones)?

    prefsmith eval labelers --store S --gold human:hh-rlhf [--labelers a,b] [--by source]

On the candidate pairs the gold decided (a tie in the gold is no pair to score) and the labeler
judged, per labeler:

- `n` pairs with a decided verdict from the labeler, `accuracy` on them and `ci95`, a seeded
  percentile bootstrap interval (2,000 resamples of the pairs);
- `in_training`: gold pairs left out because the labeler's model was trained on them (a model
  prefsmith trained keeps their ids: `training-pairs.parquet`); never in `n`;
- `ties` and `inconsistent` (a pairwise judge's two orders disagreeing) counted apart: neither
  is an error, neither is in `n`;
- `kappa`: Cohen's kappa with the gold on the decided pairs (scikit-learn);
- `length_bias`: how often the labeler prefers the longer answer, beside `gold_length_bias`;
- `first_position_win_rate` for pairwise judges that asked in both orders;
- `brier` and `ece` (10 bins) for labelers with scores: P(first preferred) from a logistic fit
  of the gold on the score difference (scikit-learn), so what is measured is how well the
  scores can be calibrated.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from prefsmith.builders.pairs import PAIR_MODES, Opinions, opinions_from_labels, pair_key
from prefsmith.ingest.rewardbench import GOLD, ingest_rewardbench, section_scores
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store import Store
from prefsmith.store.labeler_records import trained_pairs_files
from prefsmith.store.queries import candidate_lengths, labels_of

BOOTSTRAP = 2000


def gold_pairs(gold: Opinions) -> dict[tuple[str, str, str], int]:
    """{(prompt, a, b) with a < b: +1 if a won, -1 if b won} for the gold's decided pairs."""
    keys = list(gold.verdicts)
    if gold.kind == "score":  # ratings (UltraFeedback's, HelpSteer2's): every pair of a prompt
        keys = [(prompt, a, b) for prompt, scored in gold.scores.items()
                for a in scored for b in scored if a < b]  # fmt: skip
    decided = {}
    for key in keys:
        verdict = gold.prefer(*key)
        if verdict in (1, -1):
            decided[key] = verdict
    return decided


def bootstrap_ci(correct: np.ndarray, seed: int = 0, rounds: int = BOOTSTRAP) -> list[float]:
    """The 2.5th and 97.5th percentiles of the accuracy over `rounds` resamples (seeded).

    Resampling n right-or-wrong outcomes with replacement draws each from the same coin, so
    the number right in a resample is Binomial(n, accuracy): drawn as such, the same
    interval costs `rounds` numbers instead of rounds x n indices (2000 x 161k pairs: 5 GB)."""
    if len(correct) == 0:
        return [None, None]  # type: ignore[list-item]
    rng = np.random.default_rng(seed)
    n = len(correct)
    means = rng.binomial(n, float(np.mean(correct)), size=rounds) / n
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def _inconsistent_pairs(labels: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        pair_key(label["prompt_id"], *label["candidate_ids"])
        for label in labels
        if (label["error"] or "").split(":")[0] == "inconsistent"
        and len(label["candidate_ids"]) == 2
    }


def _calibration(diffs: list[float], truth: list[int]) -> dict[str, float | None]:
    """Brier score and ECE of P(first preferred) from a logistic fit on the score difference."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import brier_score_loss

    y = np.array([t == 1 for t in truth], dtype=int)
    if len(set(y)) < 2:
        return {"brier": None, "ece": None}
    x = np.array(diffs, dtype=float).reshape(-1, 1)
    p = LogisticRegression().fit(x, y).predict_proba(x)[:, 1]
    bins = np.minimum((p * 10).astype(int), 9)
    ece = sum(
        abs(p[bins == b].mean() - y[bins == b].mean()) * (bins == b).mean() for b in set(bins)
    )
    return {"brier": round(float(brier_score_loss(y, p)), 4), "ece": round(float(ece), 4)}


def evaluate_labeler(
    name: str,
    labels: list[dict[str, Any]],
    gold: dict[tuple[str, str, str], int],
    lengths: dict[str, int],
    orders: dict[tuple[str, str, str], list[str]] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The figures of one labeler against the gold pairs (see the module docstring)."""
    opinions = opinions_from_labels(name, labels)
    inconsistent = _inconsistent_pairs(labels) if opinions.kind == "pairwise" else set()
    said, truth, ties, diffs, longer, gold_longer, first = [], [], 0, [], [], [], []
    seen_inconsistent = 0
    for key, verdict in gold.items():
        prompt, a, b = key
        mine = opinions.prefer(prompt, a, b)
        if key in inconsistent:
            seen_inconsistent += 1
        if mine == 0:
            ties += 1
        if mine not in (1, -1):
            continue
        said.append(mine)
        truth.append(verdict)
        if lengths.get(a, 0) != lengths.get(b, 0):
            a_longer = 1 if lengths.get(a, 0) > lengths.get(b, 0) else -1
            longer.append(mine == a_longer)
            gold_longer.append(verdict == a_longer)
        if opinions.kind == "score":
            diffs.append(opinions.margin(prompt, a, b))
        first += (orders or {}).get(key, [])
    correct = np.array([s == t for s, t in zip(said, truth, strict=True)], dtype=float)
    result: dict[str, Any] = {
        "kind": opinions.kind,
        "n": len(said),
        "accuracy": round(float(correct.mean()), 4) if len(said) else None,
        "ci95": bootstrap_ci(correct, seed),
        "kappa": _kappa(said, truth),
        "ties": ties,
        "inconsistent": seen_inconsistent,
        "length_bias": round(float(np.mean(longer)), 4) if longer else None,
        "gold_length_bias": round(float(np.mean(gold_longer)), 4) if gold_longer else None,
        "first_position_win_rate": round(first.count("A") / len(first), 4) if first else None,
    }
    if opinions.kind == "score" and len(said) >= 10:
        result.update(_calibration(diffs, truth))
    return result


def _kappa(said: list[int], truth: list[int]) -> float | None:
    from sklearn.metrics import cohen_kappa_score

    if len(said) < 2 or len(set(said) | set(truth)) < 2:
        return None
    value = cohen_kappa_score(said, truth)
    return None if np.isnan(value) else round(float(value), 4)


def evaluate_labelers(
    store: Store,
    gold: str | None,
    labelers: list[str] | None = None,
    by: str | None = None,
    seed: int = 0,
    rewardbench: str | None = None,
) -> dict[str, Any]:
    """`prefsmith eval labelers`: every labeler (or `labelers`) against the `gold` labeler,
    overall and, with `by`, per value of a prompt field (`source`, or a metadata key). With
    `rewardbench`, that file is ingested first and is the gold, split by subset, with
    RewardBench's section averages."""
    if rewardbench is not None:
        return _rewardbench(store, Path(rewardbench), labelers, seed)
    gold_name, gold_fingerprint, gold_labels, _ = labels_of(store, gold)
    truth = gold_pairs(opinions_from_labels(gold_name, gold_labels))
    if not truth:
        raise UserError(f"--gold {gold}: no decided pairs (its labels are all ties or errors)")
    names = labelers or _pairable_labelers(store, exclude=gold_name)
    lengths = candidate_lengths(store)
    groups = _groups(store, truth, by, gold_name, gold_fingerprint) if by else {None: truth}
    report: dict[str, Any] = {"gold": gold, "gold_pairs": len(truth), "labelers": {}}
    if by:
        report["by"] = by
    for name in names:
        labeler, fingerprint, rows, _ = labels_of(store, name)
        orders = _orders_of(store, labeler, fingerprint, rows)
        seen = _trained_on(store, labeler, fingerprint)
        held_out = {key: verdict for key, verdict in truth.items() if key not in seen}
        overall = evaluate_labeler(name, rows, held_out, lengths, orders, seed)
        overall["in_training"] = len(truth) - len(held_out)
        if by:
            overall["groups"] = {
                str(group): evaluate_labeler(
                    name, rows, {k: v for k, v in pairs.items() if k not in seen}, lengths,
                    orders, seed,
                )
                for group, pairs in sorted(groups.items(), key=lambda kv: str(kv[0]))
            }  # fmt: skip
        report["labelers"][name] = overall
    return report


def _trained_on(store: Store, name: str, fingerprint: str) -> set[tuple[str, str, str]]:
    """The gold-pair keys a labeler's model was trained on (prefsmith trained it), else none:
    scored on them, it would be graded on its own homework."""
    seen = set()
    for path in trained_pairs_files(store, name, fingerprint):
        table = pl.read_parquet(path).select("prompt_id", "chosen_id", "rejected_id")
        seen |= {pair_key(p, a, b) for p, a, b in table.iter_rows()}
    return seen


def _rewardbench(store: Store, path: Path, labelers, seed: int) -> dict[str, Any]:
    """Ingest the file (again: nothing new), then evaluate by subset with the section
    averages. Labelers that have not labeled its pairs yet show n = 0: label them, rerun."""
    ingested = ingest_rewardbench(path, store).to_dict()
    names = labelers or _pairable_labelers(store, exclude=GOLD)
    report = evaluate_labelers(store, GOLD, names, by="subset", seed=seed)
    report["rewardbench"] = {
        "file": str(path),
        "ingested": ingested["added"],
        "rejects_by_reason": ingested["rejects_by_reason"],
    }
    for figures in report["labelers"].values():
        figures["sections"] = section_scores(figures.get("groups", {}))
    return report


def _orders_of(store: Store, name: str, fingerprint: str, rows: list[dict]) -> dict:
    if not rows or rows[0]["kind"] != "pairwise":
        return {}
    table = (
        store.scan("labels")
        .filter((pl.col("labeler") == name) & (pl.col("fingerprint") == fingerprint))
        .select("prompt_id", "candidate_ids", "details")
        .collect()
    )
    found = {}
    for prompt, candidates, details in table.iter_rows():
        extra = load_json(details) or {}
        letters = [extra.get("order_ab"), extra.get("order_ba")]
        if len(candidates) == 2 and all(letters):
            found[pair_key(prompt, *candidates)] = letters
    return found


def _pairable_labelers(store: Store, exclude: str) -> list[str]:
    kinds = (
        store.scan("labels")
        .select("labeler", "kind")
        .unique()
        .collect()
        .group_by("labeler")
        .agg("kind")
    )
    return sorted(
        name
        for name, found in kinds.iter_rows()
        if name != exclude and len(found) == 1 and found[0] in PAIR_MODES
    )


def _groups(store: Store, truth: dict, field: str, gold: str, fingerprint: str) -> dict[Any, dict]:
    """The gold pairs by `field`: the pair's own value where the gold labels carry one (an
    ingested pair's `subset`), `origin` as its two answers' origins, else its prompt's
    (`source`, or a metadata key)."""
    prompts = store.scan("prompts").select("prompt_id", "source", "metadata").collect()
    value = {}
    for prompt_id, source, metadata in prompts.iter_rows():
        value[prompt_id] = source if field == "source" else (load_json(metadata) or {}).get(field)
    own = {}
    for prompt_id, candidates, details in (
        store.scan("labels")
        .filter((pl.col("labeler") == gold) & (pl.col("fingerprint") == fingerprint))
        .select("prompt_id", "candidate_ids", "details")
        .collect()
        .iter_rows()
    ):
        found = (load_json(details) or {}).get(field)
        if found is not None and len(candidates) == 2:
            own[pair_key(prompt_id, *candidates)] = found
    if field == "origin":  # a pair's origin: its two answers' (model against model)
        origins = dict(
            store.scan("candidates").select("candidate_id", "origin").collect().iter_rows()
        )
        own = {key: " vs ".join(sorted((origins.get(key[1], "?"), origins.get(key[2], "?"))))
               for key in truth}  # fmt: skip
    groups: dict[Any, dict] = defaultdict(dict)
    for key, verdict in truth.items():
        groups[own.get(key, value.get(key[0]))][key] = verdict
    return dict(groups)


def labeler_eval_summary(store: Store, config: Any) -> dict[str, Any]:
    """A run config's `eval_labelers:` entry (`LabelerEvalConfig`), as a stage summary."""
    import time

    started = time.perf_counter()
    report = evaluate_labelers(
        store, config.gold, config.labelers, config.by, config.seed, config.rewardbench
    )
    return {
        "command": "eval labelers",
        **report,
        "seconds": round(time.perf_counter() - started, 3),
    }
