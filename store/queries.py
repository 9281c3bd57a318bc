"""The queries every layer needs: labels of a labeler, texts by ids, candidates of origins,
dataset manifests. Plain polars over the store's tables; no Prefect, no side effects."""

from __future__ import annotations

from typing import Any

import polars as pl

from prefsmith.schemas.annotation import HUMAN_LABELER, aggregate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store.tables import Store, starts_with_any

LABEL_COLUMNS = ["labeler", "fingerprint", "kind", "prompt_id", "candidate_ids", "scores", "error"]


def labels_of(store: Store, spec: str) -> tuple[str, str, list[dict[str, Any]], int]:
    """(labeler, fingerprint, labels, stale count) for `name` or `name@fingerprint-prefix`.

    Without a fingerprint, the newest one is used: labels made before a template or
    model change are stale, and counted as such rather than mixed in. Label Studio's
    annotators (`human:label-studio`, a fingerprint each) count as one labeler: their
    Borda count or majority vote per item; `@FINGERPRINT` picks one annotator.
    `name:ASPECT` is one aspect of a rubric judge's labels (`judge:harmlessness`).
    """
    name, _, wanted = spec.partition("@")
    labels = store.scan("labels").filter(pl.col("labeler") == name).collect()
    if labels.height == 0 and ":" in name:  # `judge:harmlessness`: one aspect of a labeler
        labeler, _, aspect = name.rpartition(":")
        if store.scan("labels").filter(pl.col("labeler") == labeler).head(1).collect().height:
            at = f"@{wanted}" if wanted else ""
            name, fingerprint, rows, stale = labels_of(store, labeler + at)
            rows = aspect_labels(store, name, fingerprint, rows, aspect)
            return f"{name}:{aspect}", fingerprint, rows, stale
    if labels.height == 0:
        known = store.summary()["labels_by_labeler"]
        raise UserError(
            f"no labels from {name!r} in {store.root} (labelers: {', '.join(known) or 'none'})"
        )
    if name == HUMAN_LABELER and not wanted:  # one fingerprint per annotator: their consensus
        return name, "aggregate", aggregate(labels.select(LABEL_COLUMNS).to_dicts()), 0
    newest = labels.group_by("fingerprint").agg(pl.col("created_at").max()).sort("created_at")
    fingerprints = newest["fingerprint"].to_list()
    matching = [fp for fp in fingerprints if fp.startswith(wanted)] if wanted else fingerprints[-1:]
    if len(matching) != 1:
        raise UserError(
            f"{spec}: fingerprint matches {len(matching)} of {name}'s: {', '.join(fingerprints)}"
        )
    chosen = labels.filter(pl.col("fingerprint") == matching[0])
    rows = chosen.select(*LABEL_COLUMNS, "details").to_dicts()  # details: a strength, a subset
    return name, matching[0], rows, labels.height - chosen.height


def aspect_labels(
    store: Store, name: str, fingerprint: str, labels: list[dict[str, Any]], aspect: str
) -> list[dict[str, Any]]:
    """A multi-aspect labeler's labels with one aspect's scores as their `scores` (a label
    whose aspect has no scores, an inconsistent one say, keeps its error)."""
    rows_with_details = (
        store.scan("labels")
        .filter((pl.col("labeler") == name) & (pl.col("fingerprint") == fingerprint))
        .select("candidate_ids", "details")
        .collect()
        .iter_rows()
    )  # within one fingerprint, the candidates identify a label
    by_label = {tuple(ids): load_json(text).get("aspect_scores") for ids, text in rows_with_details}
    known = sorted({a for scores in by_label.values() if scores for a in scores})
    if aspect not in known:
        raise UserError(
            f"{name}:{aspect}: {name} has no aspect {aspect!r} "
            f"(aspects: {', '.join(known) or 'none: it was not run with rubric aspects'})"
        )
    rows = []
    for label in labels:
        scores = (by_label.get(tuple(label["candidate_ids"])) or {}).get(aspect)
        error = label["error"] if scores is None else None
        rows.append(
            {
                **label,
                "labeler": f"{name}:{aspect}",
                "scores": scores,
                "error": error or (None if scores is not None else "no_aspect_score"),
            }
        )
    return rows  # fmt: skip


def texts_by_ids(store: Store, prompt_ids: set[str], candidate_ids: set[str]) -> tuple[dict, dict]:
    """({prompt_id: messages}, {candidate_id: (content, extra_turns)}) for the given ids."""
    prompts = store.scan("prompts").filter(pl.col("prompt_id").is_in(list(prompt_ids)))
    candidates = store.scan("candidates").filter(pl.col("candidate_id").is_in(list(candidate_ids)))
    prompt_rows = prompts.select("prompt_id", "messages").collect().rows()
    candidate_rows = candidates.select("candidate_id", "content", "extra_turns").collect().rows()
    return dict(prompt_rows), {cid: (content, extra) for cid, content, extra in candidate_rows}


def candidate_lengths(store: Store) -> dict[str, int]:
    """{candidate id: length of its answer in characters}: what length-bias figures compare."""
    lengths = store.scan("candidates").select("candidate_id", pl.col("content").str.len_chars())
    return dict(lengths.collect().iter_rows())


def candidates_of_origins(store: Store, origins: list[str]) -> set[str]:
    """Ids of the candidates whose origin starts with one of `origins`."""
    matches = starts_with_any("origin", origins)
    return set(
        store.scan("candidates")
        .filter(matches)
        .select("candidate_id")
        .collect()["candidate_id"]
        .to_list()
    )


def load_manifest(store: Store, name: str) -> dict[str, Any]:
    """The manifest.json of the built dataset `name`; UserError if it was never built."""
    path = store.root / "datasets" / name / "manifest.json"
    if not path.is_file():
        raise UserError(f"no dataset {name!r} in {store.root} (build it first)")
    return load_json(path.read_text())


def candidate_prompts(store: Store) -> dict[str, str]:
    """{candidate id: its prompt id} for every answer the store holds."""
    if not store.parts("candidates"):
        return {}
    table = store.scan("candidates").select("candidate_id", "prompt_id").collect()
    return dict(zip(table["candidate_id"].to_list(), table["prompt_id"].to_list(), strict=True))
