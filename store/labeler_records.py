"""What a labeler was, by fingerprint: its fingerprint's parts, kept in the store when it labels
(STORE/labelers/), so an evaluation can tell which pairs a trained labeler has seen."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from prefsmith.schemas.ids import hash_key
from prefsmith.store.tables import Store


def _path(store: Store, name: str, fingerprint: str) -> Path:
    return store.root / "labelers" / f"{hash_key(name)[:16]}-{fingerprint}.json"


def record_labeler(store: Store, name: str, fingerprint: str, record: dict[str, Any]) -> None:
    """Keep what the labeler was (written once per fingerprint, atomically): its fingerprint
    `parts`, and `trained_pairs`, the file of pairs its model was trained on."""
    path = _path(store, name, fingerprint)
    if path.is_file():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"labeler": name, "fingerprint": fingerprint, **record}, default=str)
    temporary = path.with_suffix(f".{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")  # shards race
    temporary.write_text(text)
    os.replace(temporary, path)


def labeler_record(store: Store, name: str, fingerprint: str) -> dict[str, Any] | None:
    path = _path(store, name, fingerprint)
    return json.loads(path.read_text()) if path.is_file() else None


def trained_pairs_files(store: Store, name: str, fingerprint: str) -> list[Path]:
    """The files of pairs the labeler's model (or, for a panel, its members' models) was
    trained on, where prefsmith trained it. `name:ASPECT` is its labeler's."""
    record = labeler_record(store, name, fingerprint)
    if record is None and ":" in name:
        record = labeler_record(store, name.rpartition(":")[0], fingerprint)
    found = (record or {}).get("trained_pairs") or []
    return [Path(f) for f in ([found] if isinstance(found, str) else found) if Path(f).is_file()]
