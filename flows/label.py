"""The label flow: one labeler over the store, skipping what it has already labeled.

prefsmith label --store S --labeler reward_model --model ./my-rm
prefsmith label --store S --labeler yes_no --question "Is this response harmless?"
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.flows.labeling import run_labeler
from prefsmith.flows.progress import progress_bar
from prefsmith.flows.store import Store
from prefsmith.labelers.base import build_labeler


@task(name="label_items", cache_policy=NONE, persist_result=False)
def label_items(
    store: str, labeler: str, options: dict[str, Any], limit: int | None
) -> dict[str, Any]:
    instance = build_labeler(labeler, options)
    with progress_bar(f"label {instance.name}", total=None, unit="items") as advance:
        return run_labeler(Store(store), instance, limit=limit, on_progress=advance)


@flow(name="label")
def label(
    store: str, labeler: str, options: dict[str, Any] | None = None, limit: int | None = None
) -> dict[str, Any]:
    """Label the store's items with `labeler` (a registry key) configured by `options`."""
    build_labeler(labeler, options or {})  # options checked before any work
    return label_items(store, labeler, options or {}, limit)
