"""Compaction: a table's small parts merged into large ones, duplicate keys dropped.

Every write adds a part, so a labeling run that writes 2,000 labels at a time leaves
hundreds of small files; each read opens them all. A compaction reads consecutive small
parts up to `TARGET_PART_BYTES`, keeps the newest row of each key (a `replace` killed
half-way leaves two), and publishes one part in their place (store/part_log.py says how
readers stay safe). A write compacts by itself once a table holds `MAX_SMALL_PARTS`
small parts, so no run leaves more than that; `prefsmith store compact` does it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from prefsmith.schemas.records import TABLES
from prefsmith.store.part_log import (
    record_compaction,
    remove_expired,
    remove_temp_files,
    write_part,
)
from prefsmith.store.versions import PART_NS, WRITTEN_NS


class Store(Protocol):
    """What compaction needs of the store (tables.Store; it calls compaction, not the
    other way round)."""

    def table_dir(self, name: str) -> Path: ...
    def parts(self, name: str) -> list[Path]: ...
    def locked(self) -> AbstractContextManager[None]: ...
    def publish(
        self,
        name: str,
        keys: Any,
        write_to: Callable[[Path], object],
        before_rename: Callable[[str], object] | None = None,
    ) -> str: ...


MAX_SMALL_PARTS = 64
SMALL_PART_BYTES = 16 * 2**20
TARGET_PART_BYTES = 64 * 2**20
RETAIN_SECONDS = 3600.0  # how long a replaced part stays on disk for readers that listed it


@dataclass(frozen=True, slots=True)
class TableCompaction:
    parts_before: int
    parts_after: int
    rows: int
    duplicates_dropped: int
    files_removed: int


def small_parts(store: Store, name: str) -> list[Path]:
    """The live parts of `name` small enough to be merged."""
    return [part for part in store.parts(name) if part.stat().st_size < SMALL_PART_BYTES]


def _groups(parts: list[Path]) -> list[list[Path]]:
    groups: list[list[Path]] = [[]]
    size = 0
    for part in parts:
        part_size = part.stat().st_size
        if groups[-1] and size + part_size > TARGET_PART_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(part)
        size += part_size
    return [group for group in groups if len(group) > 1]


def _merged_rows(name: str, group: list[Path]) -> tuple[pa.Table, int]:
    """The rows of `group` in one table, the newest row of each key kept, each with the
    time of its first write (store/versions.py); and how many older copies were dropped."""
    import polars as pl

    spec = TABLES[name]
    schema = pl.from_arrow(spec.schema.empty_table()).schema  # type: ignore[union-attr]
    frame = pl.scan_parquet(
        [str(p) for p in group],
        schema={**schema, WRITTEN_NS: pl.Int64},
        missing_columns="insert",
        include_file_paths="_part",
    )
    first_part = pl.col("_part").str.extract(PART_NS.pattern, 1).cast(pl.Int64)
    frame = frame.with_columns(pl.coalesce(WRITTEN_NS, first_part).alias(WRITTEN_NS))
    frame = frame.drop("_part").collect()
    rows = frame.height
    if pc.count_distinct(frame[spec.key].to_arrow()).as_py() < rows:
        frame = frame.unique(subset=spec.key, keep="last", maintain_order=True)
    if name == "labels":  # one labeler's rows together: a read of one labeler skips the rest
        frame = frame.sort("labeler", "fingerprint", maintain_order=True)
    merged_schema = spec.schema.append(pa.field(WRITTEN_NS, pa.int64()))
    return frame.to_arrow().select(merged_schema.names).cast(merged_schema), rows - frame.height


def compact_table(
    store: Store, name: str, retain_seconds: float = RETAIN_SECONDS
) -> TableCompaction:
    """Merge the small parts of one table; the caller holds the store's lock."""
    directory = store.table_dir(name)
    remove_temp_files(directory)
    removed = remove_expired(directory, retain_seconds) if directory.is_dir() else 0
    before = len(store.parts(name))
    rows = dropped = 0
    for group in _groups(small_parts(store, name)):
        table, duplicates = _merged_rows(name, group)
        replaced = [part.name for part in group]
        store.publish(
            name,
            table.column(TABLES[name].key),
            lambda path, table=table: write_part(table, path),
            before_rename=lambda into, replaced=replaced: record_compaction(
                directory, into, replaced
            ),
        )
        rows += table.num_rows
        dropped += duplicates
    return TableCompaction(before, len(store.parts(name)), rows, dropped, removed)


def compact(
    store: Store, tables: list[str] | None = None, retain_seconds: float = RETAIN_SECONDS
) -> dict[str, dict[str, int]]:
    """`prefsmith store compact`: every table (or `tables`) compacted under the lock;
    parts replaced more than `retain_seconds` ago are deleted."""
    names = tables or [name for name in TABLES if store.table_dir(name).is_dir()]
    with store.locked():
        return {name: asdict(compact_table(store, name, retain_seconds)) for name in names}
