"""Running a labeler over the store: only what it hasn't labeled yet, written as it goes.

Items are enumerated from the store, those whose label (same candidates, same
labeler, same fingerprint) is already stored are skipped, and the model is
loaded only if something is left. Labels are written after every chunk, so a
killed run loses at most one chunk and a rerun finishes the rest.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from prefsmith.flows.ingestion import batched
from prefsmith.flows.store import Store
from prefsmith.labelers.base import Item, Labeler, is_transient
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, load_json, to_table


def store_items(store: Store, unit: str) -> list[Item]:
    """Every item of a unit: each candidate, each candidate pair of a prompt, or each prompt."""
    candidates = store.scan("candidates").select("candidate_id", "prompt_id", "content").collect()
    prompts = (
        store.scan("prompts").select("prompt_id", "messages", "reference", "metadata").collect()
    )
    by_prompt: dict[str, list[tuple[str, str]]] = {}
    for candidate_id, prompt_id, content in candidates.sort("candidate_id").iter_rows():
        by_prompt.setdefault(prompt_id, []).append((candidate_id, content))
    items = []
    for prompt_id, messages, reference, metadata in prompts.iter_rows():
        answers = by_prompt.get(prompt_id, [])
        if unit == "candidate":
            groups = [[answer] for answer in answers]
        elif unit == "pair":
            groups = [list(pair) for pair in itertools.combinations(answers, 2)]
        else:
            groups = [answers] if len(answers) > 1 else []
        for group in groups:
            items.append(
                Item(
                    prompt_id=prompt_id,
                    messages=messages,
                    candidate_ids=[cid for cid, _ in group],
                    contents=[content for _, content in group],
                    reference=reference,
                    metadata=load_json(metadata) or {},
                )
            )
    return items


def run_labeler(
    store: Store,
    labeler: Labeler,
    *,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Label what the store lacks for this labeler's fingerprint; returns the summary."""
    started = time.perf_counter()
    items = store_items(store, labeler.unit)
    stored = store.keys("labels")
    pending = [item for item in items if labeler.label_id(item) not in stored]
    cached = len(items) - len(pending)
    if limit is not None:
        pending = pending[:limit]
    # Similar lengths in a batch: less padding. The prompt counts for labelers that read it.
    pending.sort(
        key=lambda item: (
            sum(map(len, item.contents)) + sum(len(m["content"]) for m in item.messages)
        )
    )
    labeled, errors, done, made = 0, Counter(), 0, []
    try:
        if pending:
            labeler.prepare(store)
            labeler.load()
        labeled, done = _label_pending(labeler, store, pending, errors, made, on_progress)
    finally:
        labeler.close()
    seconds = time.perf_counter() - started
    return {
        "command": "label",
        "labeler": labeler.name,
        "fingerprint": labeler.fingerprint(),
        "items": len(items),
        "labeled": labeled,
        "cached": cached,
        "errors": sum(errors.values()),
        "errors_by_reason": dict(errors.most_common()),
        **labeler.summary(made),
        "seconds": round(seconds, 3),
        "items_per_s": round(done / seconds, 2) if done and seconds else None,
    }


def _label_pending(labeler, store, pending, errors, made, on_progress):
    labeled, done, batch_size = 0, 0, labeler.batch_size
    for chunk in batched(pending, batch_size * labeler.chunk_batches):
        labels: list[Label] = []
        for batch in batched(chunk, batch_size):
            try:
                labels += labeler.label_batch(batch)
            except UserError:
                raise  # a setting that can't work (a server without logprobs): stop, say why
            except Exception as error:  # a labeler bug must not cost the rest of the run
                reason = f"labeler_error: {type(error).__name__}: {error}"[:500]
                labels += [labeler.make_label(item, None, error=reason) for item in batch]
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(pending))
        for label in labels:
            if label.error:
                errors[label.error.split(":", 1)[0]] += 1
            else:
                labeled += 1
        keep = [label for label in labels if not is_transient(label.error)]
        store.write("labels", to_table("labels", keep))
        made += labels
    return labeled, done
