"""Reports over the store (read-only, quick: no Prefect run).

prefsmith report agreement --store S [--json]
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import polars as pl

from prefsmith.builders.agreement import agreement_matrix, krippendorff_alpha, pair_answers
from prefsmith.builders.pairs import PAIR_MODES, Opinions, opinions_from_labels
from prefsmith.schemas.annotation import HUMAN_LABELER
from prefsmith.schemas.records import load_json
from prefsmith.store import Store
from prefsmith.store.queries import LABEL_COLUMNS, labels_of


def annotator_opinions(store: Store) -> list[Opinions]:
    """One Opinions per Label Studio annotator, named `human:label-studio[<annotator>]`."""
    rows = (
        store.scan("labels")
        .filter(pl.col("labeler") == HUMAN_LABELER)
        .select(*LABEL_COLUMNS, "details")
        .collect()
        .to_dicts()
    )
    by_annotator: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        who = (load_json(row.pop("details")) or {}).get("annotator", row["fingerprint"])
        by_annotator[who].append(row)
    return [
        opinions_from_labels(f"{HUMAN_LABELER}[{who}]", labels)
        for who, labels in sorted(by_annotator.items())
    ]


def annotator_summary(annotators: list[Opinions]) -> dict[str, Any]:
    """Inter-annotator agreement: mean pairwise agreement, Cohen's kappa (two annotators)
    and Krippendorff's alpha (any number) over the candidate pairs they judged."""
    answers = {o.name: pair_answers(o) for o in annotators}
    units: dict[Any, dict[str, int]] = defaultdict(dict)
    for name, said in answers.items():
        for key, answer in said.items():
            units[key][name] = answer
    matrix = agreement_matrix(annotators)
    names = list(matrix)
    cells = [matrix[a][b] for i, a in enumerate(names) for b in names[i + 1 :] if matrix[a][b].n]
    alpha = krippendorff_alpha(units)
    summary: dict[str, Any] = {
        "annotators": len(annotators),
        "items_with_two_or_more": sum(len(u) >= 2 for u in units.values()),
        "pairwise_agreement": round(sum(c.agreement for c in cells) / len(cells), 4)
        if cells
        else None,
        "krippendorff_alpha": None if alpha is None else round(alpha, 4),
    }
    if len(cells) == 1:
        summary["cohen_kappa"] = cells[0].to_dict()["kappa"]
    return summary


def agreement_report(store: Store) -> dict[str, Any]:
    """Agreement of every two labelers on the candidate pairs both judged: pairwise verdicts,
    or the order of two candidates' scores (each labeler at its newest fingerprint). Label
    Studio annotators count as one labeler (their consensus) and each on their own."""
    opinions = []
    for name in sorted(store.summary()["labels_by_labeler"]):
        _, _, labels, _ = labels_of(store, name)
        kinds = {label["kind"] for label in labels}
        if kinds <= set(PAIR_MODES) and len(kinds) == 1:
            opinions.append(opinions_from_labels(name, labels))
    annotators = annotator_opinions(store) if any(o.name == HUMAN_LABELER for o in opinions) else []
    matrix = agreement_matrix(opinions + annotators)
    names = list(matrix)
    pairs = {
        f"{a} vs {b}": matrix[a][b].to_dict()
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if matrix[a][b].n
    }
    report: dict[str, Any] = {"labelers": names, "pairs": pairs}
    if len(annotators) > 1:
        report["annotators"] = annotator_summary(annotators)
    return report
