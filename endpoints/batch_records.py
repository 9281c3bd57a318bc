"""What the store keeps of Batch API submissions, so that no request is paid for twice.

Under `STORE/batches/`, one submission is three files, each replaced atomically:

- `SID.input.jsonl`: the request lines as uploaded (`custom_id` = the request's key);
- `SID.json`: its record: the job that made it (to collect it later), its request ids, and
  how far it got: `prepared` -> `uploaded` (file id) -> `submitted` (batch id) ->
  `collected` (results downloaded) or `failed`;
- `SID.results.jsonl`: the batch's output and error lines, once downloaded.

Each step is recorded before the next one starts; the remote side is tagged with the
submission id (the file's name, the batch's metadata), so a run killed between a remote
step and its record finds what it had made instead of making it again.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from prefsmith.schemas import ids

OPEN_STATES = ("prepared", "uploaded", "submitted")


def request_key(model: str, messages: Iterable[Mapping[str, Any]], sampling: Mapping) -> str:
    """A request's id: the same model, messages and sampling give the same id."""
    body = {"model": model, "messages": list(messages), **sampling}
    return ids.hash_key(json.dumps(body, sort_keys=True, ensure_ascii=False))


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all."""
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


class BatchRecords:
    """The submissions of one store."""

    def __init__(self, store_root: str | os.PathLike[str]) -> None:
        self.root = Path(store_root) / "batches"

    @contextlib.contextmanager
    def claim(self, sid: str) -> Iterator[bool]:
        """Hold submission `sid` for this process while it is submitted: True if taken, False
        if another live process holds it (a lock the kernel drops when its holder dies)."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / f"{sid}.lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def new_id(self, lines: list[dict[str, Any]]) -> str:
        made = [time.time_ns(), os.getpid(), *(line["custom_id"] for line in lines)]
        return "sub-" + ids.hash_key(json.dumps(made))[:16]

    def new(
        self,
        sid: str,
        lines: list[dict[str, Any]],
        job: Mapping[str, Any],
        endpoint: str,
        worst_usd: float | None,
    ) -> dict:
        """Record a submission of these request lines, before anything is sent (the caller
        holds its claim)."""
        self.root.mkdir(parents=True, exist_ok=True)
        body = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
        _replace(self.root / f"{sid}.input.jsonl", body.encode())
        record = {
            "id": sid,
            "state": "prepared",
            "endpoint": endpoint,
            "created": time.time(),
            "job": dict(job),
            "requests": [line["custom_id"] for line in lines],
            "worst_usd": worst_usd,
        }
        self.save(record)
        return record

    def save(self, record: dict[str, Any]) -> None:
        _replace(self.root / f"{record['id']}.json", json.dumps(record, indent=1).encode())

    def load(self, sid: str) -> dict[str, Any]:
        return json.loads((self.root / f"{sid}.json").read_text())

    def input_of(self, record: Mapping[str, Any]) -> bytes:
        return (self.root / f"{record['id']}.input.jsonl").read_bytes()

    def save_results(self, record: Mapping[str, Any], lines: bytes) -> None:
        _replace(self.root / f"{record['id']}.results.jsonl", lines)

    def all(self) -> list[dict[str, Any]]:
        if not self.root.is_dir():
            return []
        records = [json.loads(path.read_text()) for path in self.root.glob("sub-*.json")]
        return sorted(records, key=lambda record: record["created"])

    def open(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Submissions not yet ended (of `endpoint`, if given)."""
        return [
            r
            for r in self.all()
            if r["state"] in OPEN_STATES and (endpoint is None or r["endpoint"] == endpoint)
        ]

    def results(self, endpoint: str) -> Iterator[dict[str, Any]]:
        """Every downloaded result line of this endpoint's submissions, oldest first."""
        for record in self.all():
            path = self.root / f"{record['id']}.results.jsonl"
            if record["endpoint"] == endpoint and path.is_file():
                for line in path.read_text().splitlines():
                    if line.strip():
                        yield json.loads(line)

    def known(self, endpoint: str) -> set[str]:
        """Request ids a batch of this endpoint holds: running, or answered."""
        running = {key for record in self.open(endpoint) for key in record["requests"]}
        answered = {
            line.get("custom_id")
            for line in self.results(endpoint)
            if (line.get("response") or {}).get("status_code") == 200
        }
        return running | answered
