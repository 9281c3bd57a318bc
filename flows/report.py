"""Reports over the store (read-only, quick: no Prefect run).

prefsmith report agreement --store S [--json]
"""

from __future__ import annotations

from typing import Any

from prefsmith.flows.builders import labels_of
from prefsmith.flows.store import Store
from prefsmith.schemas.agreement import agreement_matrix
from prefsmith.schemas.preference import PAIR_MODES, opinions_from_labels


def agreement_report(store: Store) -> dict[str, Any]:
    """Agreement of every two labelers on the candidate pairs both judged: pairwise verdicts,
    or the order of two candidates' scores (each labeler at its newest fingerprint)."""
    opinions = []
    for name in sorted(store.summary()["labels_by_labeler"]):
        _, _, labels, _ = labels_of(store, name)
        if {label["kind"] for label in labels} <= set(PAIR_MODES) and len(
            {label["kind"] for label in labels}
        ) == 1:
            opinions.append(opinions_from_labels(name, labels))
    matrix = agreement_matrix(opinions)
    names = list(matrix)
    pairs = {
        f"{a} vs {b}": matrix[a][b].to_dict()
        for i, a in enumerate(names)
        for b in names[i + 1 :]
        if matrix[a][b].n
    }
    return {"labelers": names, "pairs": pairs}
