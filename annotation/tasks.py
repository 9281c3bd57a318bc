"""Sending candidates to annotators and their rankings back (no Prefect here).

    push: items chosen by a selection policy -> tasks (with model predictions) in a project
    pull: the project's annotations -> `human:label-studio` labels, one per annotator

A re-push creates no task for an item the project already holds (tasks carry a
key of prompt and candidate ids). A pull writes new annotations, rewrites edited
ones in place (same label id) and skips cancelled ones; Label Studio stays the
source of truth, so a pull interrupted halfway is finished by the next one.
"""

from __future__ import annotations

import itertools
import random
import time
from collections import Counter
from typing import Any

import polars as pl

from prefsmith.annotation.label_studio import LabelStudio
from prefsmith.builders.agreement import pair_answers
from prefsmith.builders.pairs import opinions_from_labels, pair_key
from prefsmith.schemas import ids
from prefsmith.schemas.annotation import (
    HUMAN_LABELER,
    build_task,
    label_scores,
    prediction,
    read_annotation,
    task_key,
)
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, load_json, to_table
from prefsmith.store import Store, labels_of

POLICIES = ("all", "random", "disagreement", "margin", "inconsistent", "uncertain")


def candidate_items(store: Store, template: str, max_candidates: int) -> list[tuple[str, list]]:
    """(prompt id, candidate ids) of every item: a prompt's candidates, or each pair."""
    rows = store.scan("candidates").select("prompt_id", "candidate_id").collect()
    by_prompt: dict[str, list[str]] = {}
    for prompt_id, candidate_id in rows.sort("candidate_id").iter_rows():
        by_prompt.setdefault(prompt_id, []).append(candidate_id)
    items = []
    for prompt_id, candidates in sorted(by_prompt.items()):
        if len(candidates) < 2:
            continue
        if template == "ranker":
            items.append((prompt_id, candidates[:max_candidates]))
        else:
            items += [(prompt_id, list(pair)) for pair in itertools.combinations(candidates, 2)]
    return items


def _pairs_of(item: tuple[str, list]) -> list[tuple[str, str, str]]:
    prompt_id, candidates = item
    return [pair_key(prompt_id, a, b) for a, b in itertools.combinations(candidates, 2)]


def select(
    store: Store,
    items: list[tuple[str, list]],
    policy: str,
    labelers: list[str],
    *,
    seed: int = 0,
    per_prompt: int | None = None,
) -> list[tuple[str, list]]:
    """The items worth people's time first, by `policy`; at most `per_prompt` per prompt."""
    if policy not in POLICIES:
        raise UserError(f"--select must be one of {', '.join(POLICIES)}, not {policy!r}")
    needs = {"disagreement": 2, "margin": 1, "inconsistent": 1, "uncertain": 1}.get(policy, 0)
    if len(labelers) < needs:
        raise UserError(f"--select {policy} needs {needs} labeler(s) in --labelers")
    if policy == "random":
        items = random.Random(seed).sample(items, len(items))
    elif policy == "disagreement":
        answers = [pair_answers(opinions_from_labels(n, labels_of(store, n)[2])) for n in labelers]

        def disagrees(item: tuple[str, list]) -> bool:
            for key in _pairs_of(item):
                said = {a[key] for a in answers if key in a}
                if len(said) > 1:
                    return True
            return False

        items = [item for item in items if disagrees(item)]
    elif policy == "margin":
        opinions = opinions_from_labels(labelers[0], labels_of(store, labelers[0])[2])
        if opinions.kind != "score":
            raise UserError(f"--select margin needs a score labeler; {labelers[0]} is not one")

        def smallest(item: tuple[str, list]) -> float:
            margins = [opinions.margin(*key) for key in _pairs_of(item)]
            known = [abs(m) for m in margins if m is not None]
            return min(known) if known else float("inf")

        items = sorted((i for i in items if smallest(i) != float("inf")), key=smallest)
    elif policy == "inconsistent":
        _, _, labels, _ = labels_of(store, labelers[0])
        flagged = {
            pair_key(label["prompt_id"], *label["candidate_ids"][:2])
            for label in labels
            if (label["error"] or "").startswith("inconsistent")
        }
        items = [item for item in items if flagged.intersection(_pairs_of(item))]
    elif policy == "uncertain":
        items = least_certain_first(store, items, labelers[0])
    if per_prompt is not None:
        taken: Counter[str] = Counter()
        capped = []
        for item in items:
            if taken[item[0]] < per_prompt:
                taken[item[0]] += 1
                capped.append(item)
        items = capped
    return items


def least_certain_first(
    store: Store, items: list[tuple[str, list]], labeler: str
) -> list[tuple[str, list]]:
    """Items with a pair the labeler is least sure of first: its probability that one answer
    is better (a panel's `p_chosen`, a logprob judge's) nearest 0.5. Active learning: the
    annotators' labels on these pairs teach the next panel fit the most."""
    _, _, labels, _ = labels_of(store, labeler)
    certainty = {}
    for label in labels:
        scores = label["scores"]
        if label["kind"] != "pairwise" or not scores or len(scores) != 2 or sum(scores) <= 0:
            continue
        p = scores[0] / sum(scores)
        certainty[pair_key(label["prompt_id"], *label["candidate_ids"])] = abs(p - 0.5)
    if not certainty:
        raise UserError(
            f"--select uncertain needs a labeler with pair probabilities (panel, judge in "
            f"logprob mode); {labeler} has none"
        )

    def doubt(item: tuple[str, list]) -> float:
        known = [certainty[key] for key in _pairs_of(item) if key in certainty]
        return min(known) if known else float("inf")

    return sorted((i for i in items if doubt(i) != float("inf")), key=doubt)


def _predictions(template: str, sources: list[tuple[str, Any]], item) -> list[dict]:
    prompt_id, candidates = item
    made = []
    for version, opinions in sources:
        if opinions.kind == "score":
            scored = opinions.scores.get(prompt_id, {})
            if all(c in scored for c in candidates):
                scores = [scored[c] for c in candidates]
                made.append(prediction(template, version, candidates, scores))
        elif len(candidates) == 2:
            answer = opinions.prefer(prompt_id, *candidates)
            if isinstance(answer, int) and answer != 0:
                scores = [1.0, 0.0] if answer == 1 else [0.0, 1.0]
                made.append(prediction(template, version, candidates, scores))
    return made


def task_json(
    store: Store, template: str, items: list[tuple[str, list]], predictions_from: list[str]
) -> list[dict[str, Any]]:
    """The import JSON of `items`: data for the template and the labelers' predictions."""
    prompts = dict(
        store.scan("prompts")
        .filter(pl.col("prompt_id").is_in([p for p, _ in items]))
        .select("prompt_id", "messages")
        .collect()
        .rows()
    )
    wanted = {c for _, cs in items for c in cs}
    texts = dict(
        store.scan("candidates")
        .filter(pl.col("candidate_id").is_in(list(wanted)))
        .select("candidate_id", "content")
        .collect()
        .rows()
    )
    sources = []
    for name in predictions_from:
        _, fingerprint, labels, _ = labels_of(store, name)
        sources.append((f"{name}@{fingerprint}", opinions_from_labels(name, labels)))
    tasks = [
        build_task(
            template,
            prompt_id,
            prompts[prompt_id],
            [(c, texts[c]) for c in candidates],
            _predictions(template, sources, (prompt_id, candidates)),
        )
        for prompt_id, candidates in items
    ]
    return tasks


def push(
    store: Store,
    studio: LabelStudio,
    project_title: str,
    *,
    template: str = "ranker",
    policy: str = "all",
    labelers: list[str] | None = None,
    predictions_from: list[str] | None = None,
    limit: int | None = None,
    per_prompt: int | None = None,
    max_candidates: int = 4,
    seed: int = 0,
) -> dict[str, Any]:
    """Create the project if needed and import the selected items it doesn't hold yet."""
    started = time.perf_counter()
    labelers = labelers or []
    predictions_from = labelers if predictions_from is None else predictions_from
    items = candidate_items(store, template, max_candidates)
    chosen = select(store, items, policy, labelers, seed=seed, per_prompt=per_prompt)
    if limit is not None:  # of the selection, so the same push twice creates nothing
        chosen = chosen[: max(0, limit)]
    project = studio.project(project_title, template)
    held = {task["data"].get("task_key") for task in studio.export_tasks(project.id)}
    new = [item for item in chosen if task_key(item[0], item[1]) not in held]
    tasks = task_json(store, template, new, predictions_from)
    created = studio.import_tasks(project.id, tasks)
    return {
        "command": "annotate push",
        "project": project_title,
        "project_id": project.id,
        "selected": len(chosen),
        "already_in_project": len(chosen) - len(new),
        "created": created,
        "predictions": sum(len(t["predictions"]) for t in tasks),
        "seconds": round(time.perf_counter() - started, 3),
    }


def pull(store: Store, studio: LabelStudio, project_title: str) -> dict[str, Any]:
    """Annotations -> labels: new ones written, edited ones rewritten, cancelled skipped."""
    started = time.perf_counter()
    project = studio.project(project_title)
    template = "ranker" if "<Ranker" in project.label_config else "pairwise"
    emails = studio.user_emails()
    stored = {
        row["label_id"]: (load_json(row["details"]) or {}).get("updated_at")
        for row in store.scan("labels")
        .filter(pl.col("labeler") == HUMAN_LABELER)
        .select("label_id", "details")
        .collect()
        .iter_rows(named=True)
    }
    counts: Counter[str] = Counter()
    new, edited = [], []
    for task in studio.export_tasks(project.id):
        data = task["data"]
        if "task_key" not in data:
            counts["foreign_task"] += 1
            continue
        for annotation in task.get("annotations", []):
            if annotation.get("was_cancelled"):
                counts["cancelled"] += 1
                continue
            answer = read_annotation(template, data, annotation.get("result", []))
            if answer is None:
                counts["unanswered"] += 1
                continue
            annotator = _annotator(annotation, emails)
            label = Label(
                HUMAN_LABELER,
                ids.fingerprint(labeler="label-studio", project=project_title, annotator=annotator),
                "ranking" if template == "ranker" else "pairwise",
                data["prompt_id"],
                list(data["candidate_ids"]),
                label_scores(template, data["candidate_ids"], answer),
                details={
                    "annotator": annotator,
                    "annotation_id": annotation["id"],
                    "task_id": task["id"],
                    "updated_at": annotation.get("updated_at"),
                    "answer": answer,
                    "comment": _comment(annotation.get("result", [])),
                },
            )
            if label.label_id not in stored:
                new.append(label)
            elif stored[label.label_id] != label.details["updated_at"]:
                edited.append(label)
            else:
                counts["unchanged"] += 1
    added = store.write("labels", to_table("labels", new)).added
    if edited:
        store.replace("labels", to_table("labels", edited))
    return {
        "command": "annotate pull",
        "project": project_title,
        "new": added,
        "updated": len(edited),
        **{k: counts[k] for k in ("unchanged", "cancelled", "unanswered", "foreign_task")},
        "seconds": round(time.perf_counter() - started, 3),
    }


def _annotator(annotation: dict[str, Any], emails: dict[int, str]) -> str:
    who = annotation.get("completed_by")
    if isinstance(who, dict):
        return who.get("email") or str(who.get("id"))
    return emails.get(who, str(who))


def _comment(result: list[dict[str, Any]]) -> str | None:
    for region in result:
        if region.get("type") == "textarea":
            return "\n".join(region.get("value", {}).get("text", [])) or None
    return None
