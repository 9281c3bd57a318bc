"""The build flow: one flow for every dataset kind of the builder registry.

    prefsmith build preference --store S --from human:hh-rlhf --name hh-pairs
    prefsmith build rm-pairs --store S --from human:hh-rlhf --name hh-rm
    prefsmith build reward-in-prompt --store S --rewards helpful=rm-a,harmless=rm-b --name rip
    prefsmith build token-rewards --store S --tokenizer PATH --name dense

`settings` are the fields of the kind's settings model (`schemas.builds.BuildStage`), as in
a run config's `build:` section.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.builders.registry import build_dataset, build_settings
from prefsmith.store import Store


@task(name="build_dataset", cache_policy=NONE, persist_result=False)
def build_dataset_task(store: str, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    return build_dataset(Store(store), kind, settings)


@flow(name="build-dataset", flow_run_name="build-{kind}")
def build(store: str, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Build (or rebuild, replaced whole) a `kind` dataset from the store's labels."""
    settings = build_settings(kind, settings).model_dump(exclude_unset=True)
    return build_dataset_task(store, kind, settings)
