"""Export a built dataset: to a folder (the Hub layout), or to the Hub in one commit.

    prefsmith export --store S --dataset hh-pairs --to ./out/hh-pairs
    prefsmith export --store S --dataset hh-pairs --to hub://my-org/hh-pairs [--public]

The token comes from HF_TOKEN or a Prefect Secret block (`token_secret`), never
from configuration, and is never written to the card, the manifest or the logs.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.builders.export import (
    HUB_PREFIX,
    check_export,
    dataset_path,
    export_to_folder,
    push_to_hub,
)
from prefsmith.runtime.secrets import hub_token
from prefsmith.schemas.config import ExportConfig
from prefsmith.store import Store


@task(name="export_dataset", cache_policy=NONE, persist_result=False)
def export_task(
    store: str, dataset: str, to: str, private: bool, token_secret: str | None
) -> dict[str, Any]:
    source = dataset_path(Store(store), dataset)
    if to.startswith(HUB_PREFIX):
        return push_to_hub(
            source, to.removeprefix(HUB_PREFIX), private=private, token=hub_token(token_secret)
        )
    export_to_folder(source, Path(to))
    return {"path": str(Path(to).resolve())}


@flow(name="export-dataset")
def export_dataset(store: str, config: ExportConfig) -> dict[str, Any]:
    """Export a built dataset to a folder or to `hub://ORG/NAME` (private by default): the
    fields of `ExportConfig`, as in a run config's `export:` entries."""
    started = time.perf_counter()
    config = ExportConfig.model_validate(config)
    check_export(Store(store), config.dataset, config.to)
    result = export_task(store, config.dataset, config.to, config.private, config.token_secret)
    return {
        "command": "export",
        "dataset": config.dataset,
        "to": config.to,
        **result,
        "seconds": round(time.perf_counter() - started, 3),
    }
