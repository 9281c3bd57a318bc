"""Export a built dataset: to a folder (the Hub layout), or to the Hub in one commit.

    prefsmith export --store S --dataset hh-pairs --to ./out/hh-pairs
    prefsmith export --store S --dataset hh-pairs --to hub://my-org/hh-pairs [--public]

The token comes from HF_TOKEN or a Prefect Secret block (`token_secret`), never
from configuration, and is never written to the card, the manifest or the logs.
"""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.flows.store import Store
from prefsmith.schemas.errors import UserError

HUB_PREFIX = "hub://"
_REPO_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


def dataset_path(store: Store, dataset: str) -> Path:
    path = store.root / "datasets" / dataset
    if not (path / "manifest.json").is_file():
        raise UserError(f"no dataset {dataset!r} in {store.root} (build it first)")
    return path


def check_export(store: Store, dataset: str, to: str) -> None:
    dataset_path(store, dataset)
    if to.startswith(HUB_PREFIX):
        if not _REPO_ID.match(to.removeprefix(HUB_PREFIX)):
            raise UserError(f"--to {to}: expected hub://ORG/NAME")
    elif Path(to).exists() and any(Path(to).iterdir()):
        raise UserError(f"--to {to} exists and is not empty; choose a new folder")


def export_to_folder(source: Path, target: Path) -> None:
    """Copy the dataset's Hub layout to `target` (created whole, or not at all)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.parent / f".tmp-{target.name}-{uuid.uuid4().hex[:8]}"
    shutil.copytree(source, tmp)
    if target.exists():
        target.rmdir()  # empty, checked before
    tmp.rename(target)


def hub_token(token_secret: str | None) -> str | None:
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"]
    if token_secret:
        from prefect.blocks.system import Secret

        return Secret.load(token_secret).get()
    return None


def push_to_hub(source: Path, repo_id: str, *, private: bool, token: str | None) -> dict[str, Any]:
    """Create the dataset repo (if needed) and upload the folder as one commit."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=os.environ.get("HF_ENDPOINT") or None, token=token)
    try:
        repo = api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        commit = api.upload_folder(
            folder_path=source,
            repo_id=repo_id,
            repo_type="dataset",
            commit_message=f"Upload {source.name} with prefsmith",
        )
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else "?"
        raise UserError(
            f"the Hub refused the upload to {repo_id} (HTTP {status}); check HF_TOKEN's write access"
        ) from None
    except OSError as error:
        raise UserError(f"could not reach the Hugging Face Hub: {error}") from None
    return {"url": str(repo), "commit": commit.oid}


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
def export_dataset(
    store: str, dataset: str, to: str, private: bool = True, token_secret: str | None = None
) -> dict[str, Any]:
    """Export a built dataset to a folder or to `hub://ORG/NAME` (private by default)."""
    started = time.perf_counter()
    check_export(Store(store), dataset, to)
    result = export_task(store, dataset, to, private, token_secret)
    return {
        "command": "export",
        "dataset": dataset,
        "to": to,
        **result,
        "seconds": round(time.perf_counter() - started, 3),
    }
