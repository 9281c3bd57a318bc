"""The store: a directory of append-only Parquet tables.

Each write is one new part file, written under a temporary name and renamed
into place, so a crash leaves either the whole part or nothing. Rows whose key
is already stored are dropped before writing, so reruns add nothing. Writers
take an exclusive lock on the store; readers never need it (they only see
complete, renamed parts). Small parts are merged by compaction (store/compaction.py),
which a write starts itself once a table holds `MAX_SMALL_PARTS` of them.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import TABLES
from prefsmith.store.compaction import MAX_SMALL_PARTS, compact_table, small_parts
from prefsmith.store.key_index import KeyIndex
from prefsmith.store.part_log import (
    TMP_PREFIX,
    compactions,
    durable_rename,
    live_parts,
    new_part_name,
    remove_temp_files,
    write_part,
)
from prefsmith.store.versions import WRITTEN_NS, part_ns, rows_at, with_written_ns

if TYPE_CHECKING:
    import polars as pl


def starts_with_any(column: str, prefixes: list[str] | tuple[str, ...]) -> pl.Expr:
    """A filter: rows whose `column` starts with one of `prefixes` (`origin`, `generate:`)."""
    import polars as pl

    return pl.any_horizontal([pl.col(column).str.starts_with(p) for p in prefixes])


@dataclass(frozen=True, slots=True)
class WriteResult:
    added: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class EncodedPart:
    """Rows of one table already encoded as a Parquet file, with their keys.

    Worker processes encode their own parts, so the writing process only checks
    keys and renames files into place (it decodes a part only if some of its rows
    are duplicates).
    """

    keys: list[str]
    data: bytes

    @classmethod
    def encode(cls, name: str, table: pa.Table) -> EncodedPart:
        spec = TABLES[name]
        table = table.select(spec.schema.names).cast(spec.schema)
        sink = pa.BufferOutputStream()
        write_part(table, sink)
        return cls(table.column(spec.key).to_pylist(), sink.getvalue().to_pybytes())


class Store:
    """Append-only Parquet tables under `root` (`prompts`, `candidates`, `labels`, `rejects`)."""

    def __init__(self, root: str | os.PathLike[str], at: int | None = None) -> None:
        self.root = Path(root)
        self.at_version = at  # read-only, as the store was at that version (versions.py)
        if "{{" in str(root):  # a prefect.yaml placeholder that `prefect deploy` couldn't fill
            raise UserError(
                f"store path {root!r} is an unfilled placeholder: set PREFSMITH_STORE in the "
                "shell that runs `prefect deploy`, or pass --param store=DIR"
            )
        if self.root.exists() and not self.root.is_dir():
            raise UserError(f"store path {self.root} exists and is not a directory")
        self._keys: dict[str, KeyIndex] = {}
        self._parts_seen: dict[str, set[str]] = {}

    def ensure_writable(self) -> None:
        """Create the store directory if needed; UserError if it can't be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-check-{uuid.uuid4().hex[:8]}"
            probe.touch()
            probe.unlink()
        except OSError as error:
            raise UserError(f"cannot write the store at {self.root}: {error.strerror}") from None

    # -- paths ---------------------------------------------------------------
    def table_dir(self, name: str) -> Path:
        if name not in TABLES:
            raise UserError(f"unknown table {name!r}; tables: {', '.join(TABLES)}")
        return self.root / name

    def parts(self, name: str) -> list[Path]:
        """The live parts of a table, oldest first (less those a compaction replaced)."""
        return live_parts(self.table_dir(name))

    # -- reading -------------------------------------------------------------
    def scan(self, name: str) -> pl.LazyFrame:
        """Lazy polars frame over every complete part of a table (empty if none)."""
        import polars as pl

        parts = self.parts(name)
        schema = pl.from_arrow(TABLES[name].schema.empty_table()).schema  # type: ignore[union-attr]
        if not parts:
            return pl.LazyFrame(schema=schema)
        paths = [str(p) for p in parts]
        if self.at_version is None or all(part_ns(p) <= self.at_version for p in parts):
            return pl.scan_parquet(
                paths, schema=schema, missing_columns="insert", extra_columns="ignore"
            )
        frame = pl.scan_parquet(
            paths,
            schema={**schema, WRITTEN_NS: pl.Int64},
            missing_columns="insert",
            include_file_paths="_part",
        )
        return rows_at(frame, self.at_version)

    def count(self, name: str) -> int:
        """Row count from Parquet footers only (rows are unique by key on write)."""
        if self.at_version is not None:
            import polars as pl

            return self.scan(name).select(pl.len()).collect().item()
        return sum(pq.read_metadata(p).num_rows for p in self.parts(name))

    def version(self) -> int:
        """The store's version: when its newest part was written (ns); 0 if it is empty."""
        if self.at_version is not None:
            return self.at_version
        return max((part_ns(p) for name in TABLES for p in self.parts(name)), default=0)

    def at(self, version: int) -> Store:
        """The store as it was at `version`, read-only (`build --at`)."""
        latest = self.version()
        if version > latest:
            raise UserError(f"--at {version}: newer than the store (its version is {latest})")
        return Store(self.root, at=version)

    def _writable(self) -> None:
        if self.at_version is not None:
            raise UserError(f"the store as of version {self.at_version} is read-only")

    def keys(self, name: str) -> KeyIndex:
        """Every key stored in a table (`key in index`, `index.contains(keys)`), cached and
        refreshed with the parts written since."""
        self._refresh_keys(name)
        return self._keys[name]

    def _refresh_keys(self, name: str) -> None:
        seen = self._parts_seen.setdefault(name, set())
        keys = self._keys.setdefault(name, KeyIndex())
        new = [p for p in self.parts(name) if p.name not in seen]
        if not new:
            return
        merged_from = {c.into: c.replaced for c in compactions(self.table_dir(name))}
        key = TABLES[name].key
        for part in new:
            # A compaction's output holds only keys of the parts it replaced: if those
            # were read already, it holds nothing new.
            replaced = merged_from.get(part.name)
            if replaced is None or not seen.issuperset(replaced):
                keys.add(pq.read_table(part, columns=[key]).column(key))
            seen.add(part.name)

    # -- writing -------------------------------------------------------------
    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    @contextmanager
    def lease(self, key: str, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
        """Hold the lease `key` (one labeler fingerprint's work, say) while the block runs: a
        second holder waits until the first ends. The OS drops a crashed holder's lease, so
        the next run takes its work over at once. Local and NFSv4 file systems only."""
        folder = self.root / "leases"
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{key}.lock", "a+b") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if on_wait is not None:
                    on_wait()
                fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def write(self, name: str, table: pa.Table) -> WriteResult:
        """Append the rows of `table` whose key is not stored yet; atomic per call."""
        spec = TABLES[name]
        self._writable()
        if table.num_rows == 0:
            return WriteResult(0, 0)
        table = table.select(spec.schema.names).cast(spec.schema)
        with self._locked():
            self._remove_stale_temp_files(name)
            stored = self.keys(name).contains(table.column(spec.key))
            keys = table.column(spec.key).to_pylist()
            fresh = set(keys)
            if len(fresh) < len(keys) or stored.any():
                keep, fresh = [], set()
                for index, key in enumerate(keys):
                    if not stored[index] and key not in fresh:
                        fresh.add(key)
                        keep.append(index)
                table = table.take(pa.array(keep, type=pa.int64()))
            if fresh:
                self.publish(name, fresh, lambda path: write_part(table, path))
                self._compact_if_many(name)
        return WriteResult(added=len(fresh), duplicates=len(keys) - len(fresh))

    def replace(self, name: str, table: pa.Table) -> int:
        """Rewrite stored rows by key (an edited human annotation); returns rows replaced.

        The new rows land in a new part first, then every older part holding one of
        those keys is rewritten without them (temp + rename each). A crash in between
        leaves both versions of a row; replacing them again (the next pull) removes the
        older one. Nothing is lost at any point.
        """
        spec = TABLES[name]
        self._writable()
        table = table.select(spec.schema.names).cast(spec.schema)
        keys = set(table.column(spec.key).to_pylist())
        if not keys:
            return 0
        with self._locked():
            self._remove_stale_temp_files(name)
            self._refresh_keys(name)
            older = [
                part
                for part in self.parts(name)
                if not keys.isdisjoint(
                    pq.read_table(part, columns=[spec.key]).column(0).to_pylist()
                )
            ]
            self.publish(name, keys, lambda path: write_part(table, path))
            for part in older:
                rows = with_written_ns(pq.read_table(part), part)
                keep = pc.invert(pc.is_in(rows.column(spec.key), pa.array(list(keys))))
                rest = rows.filter(keep)
                if rest.num_rows:
                    self.publish(
                        name,
                        set(rest.column(spec.key).to_pylist()),
                        lambda path, rest=rest: write_part(rest, path),
                    )
                part.unlink()
        return len(keys)

    def write_encoded(self, name: str, part: EncodedPart) -> WriteResult:
        """`write` for a part encoded elsewhere: renamed into place as is when all rows are new."""
        self._writable()
        if not part.keys:
            return WriteResult(0, 0)
        with self._locked():
            self._remove_stale_temp_files(name)
            fresh = set(part.keys)
            if len(fresh) == len(part.keys) and not self.keys(name).contains(part.keys).any():
                self.publish(name, fresh, lambda path: path.write_bytes(part.data))
                self._compact_if_many(name)
                return WriteResult(added=len(fresh), duplicates=0)
        return self.write(name, pq.read_table(pa.BufferReader(part.data)))

    def publish(
        self,
        name: str,
        keys: set[str] | pa.ChunkedArray,
        write_to: Callable[[Path], object],
        before_rename: Callable[[str], object] | None = None,
    ) -> str:
        """Write a part under a temp name, make it durable, rename it in; caller holds the
        lock. Returns the part's file name (`before_rename` sees it before anyone else)."""
        if name not in self._keys:
            self._refresh_keys(name)
        directory = self.table_dir(name)
        directory.mkdir(parents=True, exist_ok=True)
        stem = new_part_name()
        tmp, final = directory / f"{TMP_PREFIX}{stem}", directory / stem
        write_to(tmp)
        if before_rename is not None:
            before_rename(stem)
        durable_rename(tmp, final)
        self._keys[name].add(list(keys) if isinstance(keys, set) else keys)
        self._parts_seen[name].add(final.name)
        return stem

    def _compact_if_many(self, name: str) -> None:
        if len(small_parts(self, name)) >= MAX_SMALL_PARTS:
            compact_table(self, name)

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the store's writer lock (what a compaction runs under)."""
        with self._locked():
            yield

    def _remove_stale_temp_files(self, name: str) -> None:
        remove_temp_files(self.root / name)

    # -- summary -------------------------------------------------------------
    def summary(self) -> dict:
        """Per-table counts, rejects by reason and labels by labeler."""
        tables = {name: self.count(name) for name in TABLES}
        return {
            "tables": tables,
            "rejects_by_reason": self._value_counts("rejects", "reason"),
            "labels_by_labeler": self._value_counts("labels", "labeler"),
        }

    def _value_counts(self, name: str, column: str) -> dict[str, int]:
        parts = self.parts(name)
        if not parts:
            return {}
        if self.at_version is not None:
            counts = self.scan(name).group_by(column).len().collect().rows()
            return dict(sorted(counts, key=lambda kv: -kv[1]))
        values = pa.concat_arrays(
            [c for p in parts for c in pq.read_table(p, columns=[column]).column(column).chunks]
        )
        counts = pc.value_counts(values).to_pylist()
        return dict(sorted(((c["values"], c["counts"]) for c in counts), key=lambda kv: -kv[1]))
