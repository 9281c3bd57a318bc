"""Which parts of a table are live: every part, less those a finished compaction replaced.

A compaction writes its record (`compactions/<new part>.json`: the parts it replaces)
first, then renames the merged part into place. Until that rename the record names a
part nobody can see, and is ignored; from the rename on, every listing hides the
replaced parts. So a reader sees the old parts or the merged one, never both and never
neither, whenever it lists, and a compaction killed at any point loses nothing. The
replaced files stay on disk until a later compaction finds the record older than the
retention (a reader that listed them before may still be reading them).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PART_GLOB = "part-*.parquet"
COMPACTIONS = "compactions"
TMP_PREFIX = ".tmp-"
COMPRESSION = "zstd"
ROW_GROUP_ROWS = 131_072


def write_part(table: pa.Table, where: str | os.PathLike[str] | pa.NativeFile) -> None:
    """A table as one Parquet part. Ids are unique hashes: dictionary-encoding them only
    costs time (and makes their pages larger). Row groups of 128k rows: a reader filtering
    on a column (one labeler) skips the groups whose statistics rule it out."""
    dictionary = [n for n in table.column_names if not n.endswith(("_id", "_ids"))]
    pq.write_table(
        table,
        where,
        compression=COMPRESSION,
        use_dictionary=dictionary,
        row_group_size=ROW_GROUP_ROWS,
    )


def new_part_name() -> str:
    """A part's file name: sorted by the time it was written, unique across writers."""
    return f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"


@dataclass(frozen=True, slots=True)
class Compaction:
    record: Path
    into: str
    replaced: tuple[str, ...]
    at: float


def durable_rename(tmp: Path, final: Path) -> None:
    """`tmp` renamed to `final` once its bytes are on disk, and the rename made durable."""
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def compactions(directory: Path) -> list[Compaction]:
    """The compaction records of a table directory, oldest first."""
    folder = directory / COMPACTIONS
    if not folder.is_dir():
        return []
    found = []
    for record in sorted(folder.glob("*.json")):
        try:
            data = json.loads(record.read_text())
        except (OSError, ValueError):  # removed by a compaction's cleanup while we listed
            continue
        found.append(Compaction(record, data["into"], tuple(data["replaced"]), data["at"]))
    return found


def live_parts(directory: Path) -> list[Path]:
    """The parts a reader should read, in the order they were written."""
    if not directory.is_dir():
        return []
    parts = sorted(directory.glob(PART_GLOB))
    names = {part.name for part in parts}
    hidden = {name for c in compactions(directory) if c.into in names for name in c.replaced}
    return [part for part in parts if part.name not in hidden] if hidden else parts


def remove_temp_files(directory: Path) -> None:
    """Delete a table's temp files. Called under the lock: no writer is running, so any
    temp file is a crash's leftover."""
    if directory.is_dir():
        for leftover in directory.glob(f"{TMP_PREFIX}*"):
            leftover.unlink(missing_ok=True)


def record_compaction(directory: Path, into: str, replaced: list[str]) -> None:
    """Write the record of a compaction into `into` (before `into` itself exists)."""
    folder = directory / COMPACTIONS
    folder.mkdir(exist_ok=True)
    tmp, final = folder / f"{TMP_PREFIX}{into}.json", folder / f"{into}.json"
    tmp.write_text(json.dumps({"into": into, "replaced": replaced, "at": time.time()}))
    durable_rename(tmp, final)


def remove_expired(directory: Path, retain_seconds: float) -> int:
    """Delete the files of compactions finished more than `retain_seconds` ago (and records
    whose merged part never appeared: a compaction killed before its rename); returns the
    parts deleted. Caller holds the store's lock."""
    removed = 0
    now = time.time()
    for compaction in compactions(directory):
        landed = (directory / compaction.into).exists()
        if landed and now - compaction.at < retain_seconds:
            break  # in order: a later compaction's replaced parts may be this one's output
        if landed:
            for name in compaction.replaced:
                path = directory / name
                if path.exists():
                    path.unlink()
                    removed += 1
        compaction.record.unlink(missing_ok=True)
    for leftover in (directory / COMPACTIONS).glob(f"{TMP_PREFIX}*"):
        leftover.unlink(missing_ok=True)
    return removed
