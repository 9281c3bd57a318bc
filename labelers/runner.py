"""Running a labeler over the store: only what it hasn't labeled yet, written as it goes.

Items are enumerated from the store, those whose label (same candidates, same
labeler, same fingerprint) is already stored are skipped, and the model is
loaded only if something is left. Labels are written after every chunk, so a
killed run loses at most one chunk and a rerun finishes the rest.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from prefsmith.endpoints.budget import BudgetReached
from prefsmith.labelers.base import Item, Labeler, is_transient
from prefsmith.schemas.batching import batched
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, load_json, to_table
from prefsmith.schemas.secrets import scrub
from prefsmith.store import Store, starts_with_any
from prefsmith.store.labeler_records import record_labeler

_log = logging.getLogger("prefsmith")


def store_items(
    store: Store, unit: str, origins: Sequence[str] | None = None, sample: float | None = None
) -> list[Item]:
    """Every item of a unit: each candidate, each candidate pair of a prompt, or each prompt;
    with `origins`, only candidates whose origin starts with one of them (`generate:`); with
    `sample`, only the prompts of that share (`in_sample`)."""
    candidates = store.scan("candidates")
    if origins:
        candidates = candidates.filter(starts_with_any("origin", list(origins)))
    candidates = candidates.select("candidate_id", "prompt_id", "content").collect()
    prompts = (
        store.scan("prompts").select("prompt_id", "messages", "reference", "metadata").collect()
    )
    by_prompt: dict[str, list[tuple[str, str]]] = {}
    for candidate_id, prompt_id, content in candidates.sort("candidate_id").iter_rows():
        by_prompt.setdefault(prompt_id, []).append((candidate_id, content))
    items = []
    for prompt_id, messages, reference, metadata in prompts.iter_rows():
        if sample is not None and not in_sample(prompt_id, sample):
            continue
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


def in_sample(prompt_id: str, share: float) -> bool:
    """Whether a prompt is in the sample of this share: its id (a hash) read as a number in
    [0, 1). The same prompts whatever the labeler, so two labelers sampled alike meet."""
    return int(prompt_id[:8], 16) / 0x100000000 < share


def shard_of(label_id: str, shards: int) -> int:
    """The shard (0 .. shards-1) of an item, from its label id: stable across runs and
    machines, and it changes only with the labeler's fingerprint."""
    return int(label_id, 16) % shards


def run_labeler(
    store: Store,
    labeler: Labeler,
    *,
    limit: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    shard: tuple[int, int] | None = None,
    origins: Sequence[str] | None = None,
    while_loaded: Callable[[Labeler], AbstractContextManager[Any]] | None = None,
    retry_errors: Sequence[str] = (),
    max_cost: float | None = None,
    sample: float | None = None,
) -> dict[str, Any]:
    """Label what the store lacks for this labeler's fingerprint; returns the summary.

    `shard=(index, count)` keeps only the items of one shard (`shard_of`); the counts of
    the summary are then that shard's. `origins` keeps only candidates whose origin starts
    with one of these prefixes; `sample` keeps only that share of the prompts (`in_sample`).
    `while_loaded(labeler)` is entered around loading
    and labeling (a concurrency slot), only when there is something to label.
    `retry_errors` asks again for items whose stored label is a final error with one of
    these reasons (`all`: any), replacing those labels. `max_cost`: stop before a batch
    whose worst case would take this run's spending past it (`"stopped": "budget"`).

    A run holds the store's lease on (labeler, fingerprint, shard): an overlapping run of the
    same labeler waits for it, then labels only what is still missing, so nothing is
    computed (or paid for) twice.
    """
    started = time.perf_counter()
    labeler.prepare(store)  # a labeler that reads the store (a panel's fit) is ready to key
    record_labeler(store, labeler.name, labeler.fingerprint(),
                   {"parts": labeler.fingerprint_parts(), "trained_pairs": labeler.trained_pairs()})  # fmt: skip
    index, count = shard or (0, 1)
    lease = f"{labeler.name}-{labeler.fingerprint()}-{index}of{count}"
    if max_cost is not None:
        labeler.use_budget(max_cost)
    with store.lease(lease, on_wait=lambda: _waiting(labeler.name)):
        selection = {"origins": origins, "sample": sample}
        return _run_holding_lease(
            store,
            labeler,
            started,
            limit,
            on_progress,
            shard,
            selection,
            while_loaded,
            retry_errors,
        )


def _waiting(name: str) -> None:
    logging.getLogger("prefsmith").warning(
        "another run of %s is labeling this store: waiting for it to end, then labeling "
        "what it left",
        name,
    )


def unskipped(labeler: Labeler, items: list[Item]) -> tuple[list[Item], Counter[str]]:
    """The items the labeler labels, and how many it skips by reason (`skip_reason`)."""
    kept, skipped = [], Counter()
    for item in items:
        reason = labeler.skip_reason(item)
        if reason is None:
            kept.append(item)
        else:
            skipped[reason] += 1
    return kept, skipped


def pending_items(
    store: Store,
    labeler: Labeler,
    *,
    limit: int | None = None,
    shard: tuple[int, int] | None = None,
    origins: Sequence[str] | None = None,
    retry_errors: Sequence[str] = (),
    sample: float | None = None,
) -> tuple[list[Item], list[Item], set[str], int, Counter[str]]:
    """(every item, the items to label in the order they are labeled, the label ids asked
    again, how many items are labeled already, the items skipped by reason): what the store
    lacks for this fingerprint."""
    items = store_items(store, labeler.unit, origins, sample)
    stored = store.keys("labels")
    keyed = [(item, labeler.label_id(item)) for item in items]
    if shard is not None:
        index, count = shard
        keyed = [(item, key) for item, key in keyed if shard_of(key, count) == index]
    items, skipped = unskipped(labeler, [item for item, _ in keyed])
    keyed = [(item, key) for item, key in keyed if labeler.skip_reason(item) is None]
    again = _stored_errors(store, labeler, retry_errors) if retry_errors else set()
    is_stored = stored.contains([key for _, key in keyed])
    pending = [
        item for (item, key), done in zip(keyed, is_stored, strict=True) if not done or key in again
    ]
    cached = len(items) - len(pending)
    if limit is not None:
        pending = pending[:limit]
    # Similar lengths in a batch: less padding. The prompt counts for labelers that read it.
    pending.sort(
        key=lambda item: (
            sum(map(len, item.contents)) + sum(len(m["content"]) for m in item.messages)
        )
    )
    return items, pending, again, cached, skipped


def by_length(labeler: Labeler, pending: list[Item]) -> list[Item]:
    """`pending` in the order of the labeler's own lengths (tokens), where it has them: the
    character count sorts a batch of 16 with 9% more padding than the tokens do."""
    lengths = labeler.batch_lengths(pending)
    if lengths is None:
        return pending
    return [pending[i] for i in sorted(range(len(pending)), key=lengths.__getitem__)]


def _run_holding_lease(
    store, labeler, started, limit, on_progress, shard, selection, while_loaded, retry_errors
) -> dict[str, Any]:
    items, pending, again, cached, skipped = pending_items(
        store, labeler, limit=limit, shard=shard, retry_errors=retry_errors, **selection
    )
    labeled, errors, done, made, stopped = 0, Counter(), 0, [], None
    with while_loaded(labeler) if pending and while_loaded else nullcontext():
        try:
            if pending:
                labeler.load()
                pending = by_length(labeler, pending)
            labeled, done, stopped = _label_pending(
                labeler, store, pending, errors, made, on_progress, replace=again
            )
        finally:
            labeler.close()
    seconds = time.perf_counter() - started
    budget = getattr(labeler, "budget", None)
    pending_in_batches = errors.pop("batch_pending", 0)  # answered by a later run
    # A judge's verdicts that disagree across orders, or a tie, are verdicts, not failures.
    verdicts: dict[str, int] = {}
    if getattr(labeler, "kind", None) == "pairwise":
        verdicts["inconsistent"] = errors.pop("inconsistent", 0)
        ties = [x for x in made if x.error is None and x.scores and len(set(x.scores)) == 1]
        verdicts["ties"] = len(ties)
    return {
        "command": "label",
        "labeler": labeler.name,
        "fingerprint": labeler.fingerprint(),
        "items": len(items),
        "labeled": labeled,
        "cached": cached,
        **({"skipped": dict(skipped.most_common())} if skipped else {}),
        **verdicts,
        "errors": sum(errors.values()),
        "errors_by_reason": dict(errors.most_common()),
        **labeler.summary(made),
        **({"cost_usd": labeler.cost_of(made)} if hasattr(labeler, "cost_of") else {}),
        **({"batch_pending": pending_in_batches} if pending_in_batches else {}),
        **getattr(labeler, "batch_summary", dict)(),
        **(budget.summary() if budget is not None else {}),
        **({"stopped": stopped} if stopped else {}),
        "seconds": round(seconds, 3),
        "items_per_s": round(done / seconds, 2) if done and seconds else None,
    }


def _stored_errors(store: Store, labeler: Labeler, reasons: Sequence[str]) -> set[str]:
    """Label ids of this fingerprint's stored final errors with one of `reasons`."""
    import polars as pl

    rows = (
        store.scan("labels")
        .filter(
            (pl.col("labeler") == labeler.name)
            & (pl.col("fingerprint") == labeler.fingerprint())
            & pl.col("error").is_not_null()
        )
        .select("label_id", "error")
        .collect()
    )
    wanted = set(reasons)
    return {
        label_id
        for label_id, error in rows.iter_rows()
        if "all" in wanted or error.split(":", 1)[0] in wanted
    }


def _label_pending(labeler, store, pending, errors, made, on_progress, replace=frozenset()):
    """Label `pending` batch by batch, writing each chunk; returns (labeled, done, stopped):
    `stopped` is "budget" when the budget stopped the run before the end."""
    labeled, done, stopped, batch_size = 0, 0, None, labeler.batch_size
    for chunk in batched(pending, batch_size * labeler.chunk_batches):
        labels: list[Label] = []
        for batch in batched(chunk, batch_size):
            try:
                labels += labeler.label_batch(batch)
            except BudgetReached as reached:  # nothing of this batch was sent
                stopped = "budget"
                _log.warning("%s: stopped by the budget: %s", labeler.name, reached)
                break
            except UserError:
                raise  # a setting that can't work (a server without logprobs): stop, say why
            except Exception as error:  # a labeler bug must not cost the rest of the run
                reason = scrub(f"labeler_error: {type(error).__name__}: {error}")[:500]
                labels += [labeler.make_label(item, None, error=reason) for item in batch]
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(pending))
            if getattr(getattr(labeler, "budget", None), "reached", False):
                stopped = "budget"  # a re-ask did not fit: what was answered is kept
                break
        for label in labels:
            if label.error:
                errors[label.error.split(":", 1)[0]] += 1
            else:
                labeled += 1
        keep = [label for label in labels if not is_transient(label.error)]
        fresh = [label for label in keep if label.label_id not in replace]
        store.write("labels", to_table("labels", fresh))
        if len(fresh) < len(keep):  # asked again on purpose: the new label replaces the old
            asked_again = [label for label in keep if label.label_id in replace]
            store.replace("labels", to_table("labels", asked_again))
        made += labels
        if stopped:
            break
    return labeled, done, stopped
