"""What a pipeline stage already finished: a train or evaluate stage compares a key (the hash
of its dataset's data files and its settings) with the marker in its output folder, so a
rerun with the same rows and settings returns the finished run's summary."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefsmith.schemas.ids import content_hash
from prefsmith.store import Store, load_manifest

STAGE_MARKER = "prefsmith-stage.json"  # what a pipeline run trained or evaluated here


def dataset_digest(store: str, dataset: str) -> str:
    """A hash of a built dataset's data files: a rebuild with the same rows keeps it."""
    manifest = load_manifest(Store(store), dataset)
    folder = Path(store) / "datasets" / dataset
    digests = {
        split: hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        for split, relative in sorted(manifest["data_files"].items())
    }
    return content_hash({"kind": manifest["kind"], "files": digests})


def stage_key(store: str, parameters: dict[str, Any]) -> str:
    """The key of a stage run on `parameters["dataset"]` with these settings."""
    return content_hash({**parameters, "dataset": dataset_digest(store, parameters["dataset"])})


def up_to_date(output: str | Path, key: str, record: str) -> dict[str, Any] | None:
    """The stored summary of a finished run with this key, or None if it must (re)run."""
    marker = Path(output) / STAGE_MARKER
    if not (Path(output) / record).is_file() or not marker.is_file():
        return None
    stored = json.loads(marker.read_text())
    return stored["summary"] if stored.get("key") == key else None


def mark_done(output: str | Path, key: str, summary: dict[str, Any]) -> None:
    marker = Path(output) / STAGE_MARKER
    marker.write_text(json.dumps({"key": key, "summary": summary}, indent=2, default=str))
