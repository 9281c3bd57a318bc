"""`--dry-run`: what a labeling run would send and cost, with nothing sent.

The labeler builds its requests exactly as it would (same templates, both orders of a
pair, the structured-output note), for the items the store still lacks; a recording
client counts them instead of sending them (with `batch`, but for those a batch already
holds, running or answered). Re-asks of unparseable answers are not in
the figures: they happen only for answers that can't be foreseen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prefsmith.endpoints.batch_records import BatchRecords, request_key
from prefsmith.endpoints.budget import RequestPlan, endpoint_price
from prefsmith.endpoints.chat_client import ChatResult
from prefsmith.endpoints.token_counts import token_counter
from prefsmith.labelers.base import Labeler
from prefsmith.labelers.runner import pending_items
from prefsmith.schemas.batching import batched
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

NOT_SENT = "dry_run: not sent"


class RecordingClient:
    """A chat client that sends nothing: each request is added to the plan, but for those
    whose ids are in `known` (held by batches already)."""

    def __init__(
        self, plan: RequestPlan, model: str, base_url: str, known: set[str] | None = None
    ) -> None:
        self.plan, self.model, self.base_url = plan, model, base_url
        self.known = known or set()
        self.requests = 0
        self.budget = None

    def chat_many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        for messages, sampling in requests:
            if not self.known or request_key(self.model, messages, sampling) not in self.known:
                self.plan.add(messages, sampling)
        return [ChatResult(None, error=NOT_SENT) for _ in requests]


def plan_labeling(
    store: Store,
    labeler: Labeler,
    *,
    limit: int | None = None,
    origins: Sequence[str] | None = None,
    sample: float | None = None,
    retry_errors: Sequence[str] = (),
) -> dict[str, Any]:
    """The dry run's summary: requests, input tokens, output ceiling and cost range of the
    items this labeler still lacks in the store."""
    options = labeler.options
    endpoint = getattr(options, "endpoint", None)
    if endpoint is None:
        raise UserError(f"--dry-run: the {labeler.key} labeler calls no endpoint")
    model = getattr(options, "model", None)
    batch = bool(getattr(options, "batch", False))
    plan = RequestPlan(
        token_counter(endpoint, model),
        endpoint_price(endpoint, model, getattr(options, "pricing", None)),
        batch=batch,
    )
    labeler.prepare(store)
    items, pending, _, cached, _ = pending_items(
        store, labeler, limit=limit, origins=origins, sample=sample, retry_errors=retry_errors
    )
    known = BatchRecords(store.root).known(endpoint) if batch else set()
    labeler.client = RecordingClient(plan, model or endpoint, endpoint, known)
    try:
        for batch_items in batched(pending, labeler.batch_size):
            labeler.label_batch(batch_items)
    finally:
        labeler.client = None  # a real run after this one opens the endpoint
    return plan.summary(
        "label",
        labeler=labeler.name,
        items=len(items),
        cached=cached,
        to_label=len(pending),
        **({"batch": True} if batch else {}),
    )
