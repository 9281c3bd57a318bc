"""Store versions: the store as it was when a dataset was built.

A version is the write time of the newest part (the nanoseconds in its name, chosen under
the writers' lock, so every later part has a larger one). A row belongs to version V if the
part it was first written in is no newer than V. Compaction and `replace` move rows into new
parts, so they keep each row's first part time in a `_written_ns` column; a row without it
is still in its first part, whose name gives the time. `build --at V` reads every table
through that filter and so sees the rows of V whatever was written or compacted since.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from prefsmith.schemas.errors import UserError

if TYPE_CHECKING:
    import polars as pl

WRITTEN_NS = "_written_ns"
PART_NS = re.compile(r"part-(\d{20})-")


def part_ns(part: Path | str) -> int:
    """When a part was written (ns), from its name."""
    found = PART_NS.search(Path(part).name)
    return int(found.group(1)) if found else 0


def parse_version(text: str | int) -> int:
    """A version as given on the command line or in a manifest (`store_version`)."""
    try:
        version = int(text)
    except (TypeError, ValueError):
        raise UserError(
            f"--at {text!r}: a store version is a number, as a dataset's manifest.json "
            "gives it (`store_version`)"
        ) from None
    if version < 0:
        raise UserError(f"--at {text}: a store version is 0 or more")
    return version


def with_written_ns(table: pa.Table, part: Path) -> pa.Table:
    """`table` (rows read from `part`) with each row's first write time: kept where the
    part came from a compaction, else the part's own."""
    if WRITTEN_NS in table.column_names:
        return table
    stamp = pa.array([part_ns(part)] * table.num_rows, type=pa.int64())
    return table.append_column(WRITTEN_NS, stamp)


def rows_at(frame: pl.LazyFrame, version: int) -> pl.LazyFrame:
    """The rows of `frame` (scanned with `_written_ns` and the file path `_part`) that were
    written at `version` or before."""
    import polars as pl

    from_name = pl.col("_part").str.extract(PART_NS.pattern, 1).cast(pl.Int64)
    written = pl.coalesce(pl.col(WRITTEN_NS), from_name)
    return frame.filter(written <= version).drop(WRITTEN_NS, "_part")
