"""Export a built dataset: copy its Hub layout to a folder, or upload it to the Hub in one
commit (`create_repo` + `upload_folder`, so only those two calls touch the network)."""

from __future__ import annotations

import os
import re
import shutil
import uuid
from pathlib import Path
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

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
