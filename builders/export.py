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
from prefsmith.schemas.secrets import scrub
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
        check_repo_id(to)
    elif Path(to).exists() and any(Path(to).iterdir()):
        raise UserError(f"--to {to} exists and is not empty; choose a new folder")


def check_repo_id(to: str) -> str:
    """The repo id of `hub://ORG/NAME`, checked by the Hub's own rules before any work."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    repo_id = to.removeprefix(HUB_PREFIX)
    if not _REPO_ID.match(repo_id):
        raise UserError(f"--to {to}: expected hub://ORG/NAME")
    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        raise UserError(f"--to {to}: not a Hub repo id: {str(error).splitlines()[0]}") from None
    return repo_id


def _is_network_error(error: BaseException) -> bool:
    """A connection that failed (refused, reset, timed out, DNS): not the user's data."""
    names = {cls.__name__ for cls in type(error).__mro__}
    return isinstance(error, OSError) or bool(names & {"TransportError", "NetworkError"})


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
    except Exception as error:  # the Hub's HTTP client (httpx2) raises its own network errors
        if not _is_network_error(error):
            raise
        where = os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
        raise UserError(
            f"could not reach the Hugging Face Hub at {where} ({type(error).__name__}: "
            f"{scrub(str(error))[:200]}); nothing was uploaded, run the export again"
        ) from None
    return {"url": str(repo), "commit": commit.oid}
