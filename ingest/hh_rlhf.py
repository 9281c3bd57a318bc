"""hh-rlhf into the store: single-process for any row stream, worker processes for big JSONL.

Workers parse, hash and build Arrow tables for blocks of lines; the calling
process dedupes and writes in file order. Both paths store identical rows.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from prefsmith.ingest.blocks import convert_blocks, default_workers
from prefsmith.ingest.hh_rows import HUB_ID
from prefsmith.ingest.hh_tables import ConvertedRows, convert_hh_rows
from prefsmith.ingest.hh_worker import EncodedBlock, convert_block
from prefsmith.ingest.sources import (
    SourceFile,
    TruncatedInput,
    check_hub_dataset,
    hub_id,
    resolve_files,
    truncated_row,
)
from prefsmith.ingest.writer import (
    DEFAULT_BATCH_ROWS,
    WRITE_ORDER,
    IngestReport,
    write_tables,
)
from prefsmith.schemas.batching import batched
from prefsmith.schemas.config import HHIngestConfig, validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Reject, SourceRow, now, to_table
from prefsmith.store import Store

FILE_KINDS = ("jsonl", "parquet")


@dataclass(frozen=True)
class HHSource:
    """A checked hh-rlhf input: the config, and either its files or its Hub id."""

    config: HHIngestConfig
    files: tuple[SourceFile, ...] = ()
    repo_id: str | None = None


def check_hh_source(**parameters: object) -> HHSource:
    """Validate an hh-rlhf ingest before any work; raises UserError with the fix."""
    config = validate(HHIngestConfig, parameters)
    repo_id = hub_id(config.source)
    if repo_id is None:
        return HHSource(config, files=tuple(resolve_files(config.source, FILE_KINDS)))
    if repo_id != HUB_ID:
        raise UserError(f"{repo_id} is not hh-rlhf; use `prefsmith ingest prompts` for it")
    check_hub_dataset(repo_id)
    return HHSource(config, repo_id=repo_id)


def _record(report: IngestReport, converted: list[ConvertedRows], store: Store) -> None:
    for part in converted:
        report.rows_read += part.rows_read
        report.rows_used += part.rows_used
        report.rejects_by_reason.update(part.rejects_by_reason)
    names = converted[0].tables if converted else {}
    write_tables(store, {name: [c.tables[name] for c in converted] for name in names}, report)


def ingest_hh_rows(
    rows: Iterable[SourceRow],
    store: Store,
    *,
    source_key: str,
    source_name: str,
    allow_empty: bool = False,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> IngestReport:
    """hh-rlhf rows -> a prompt, two candidates and one human pairwise label each."""
    started = time.perf_counter()
    report = IngestReport()
    for batch in batched(rows, batch_rows):
        converted = convert_hh_rows(
            batch,
            source_key=source_key,
            source_name=source_name,
            allow_empty=allow_empty,
            created_at=now(),
        )
        _record(report, [converted], store)
    report.seconds = time.perf_counter() - started
    return report


def ingest_hh_jsonl(
    path: Path,
    store: Store,
    *,
    source_key: str,
    source_name: str,
    allow_empty: bool = False,
    workers: int | None = None,
    block_bytes: int = 32 << 20,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """An hh-rlhf JSONL file -> store, one part per table per block of `block_bytes`.

    `workers=None` converts blocks in one worker process per core for files over
    64 MB, in this process below; this process only dedupes keys and renames the
    parts the workers encoded into place.
    """
    if workers is None:
        workers = default_workers(path)
    started = time.perf_counter()
    report = IngestReport()
    convert = functools.partial(
        convert_block, source_key=source_key, source_name=source_name, allow_empty=allow_empty
    )

    def collect(block: EncodedBlock) -> None:
        report.rows_read += block.rows_read
        report.rows_used += block.rows_used
        report.rejects_by_reason.update(block.rejects_by_reason)
        for name in WRITE_ORDER:  # parents first
            result = store.write_encoded(name, block.parts[name])
            report.added[name] += result.added
            report.duplicates[name] += result.duplicates

    try:
        convert_blocks(path, block_bytes, workers, convert, collect, on_progress)
    except TruncatedInput as cut:  # the whole lines before the cut are in; the rest is a reject
        row = truncated_row(cut)
        report.rows_read += 1
        report.rejects_by_reason[row.reason] += 1
        result = store.write(
            "rejects", to_table("rejects", [Reject.of_row(row, source_key, row.reason)])
        )
        report.added["rejects"] += result.added
        report.duplicates["rejects"] += result.duplicates
        logging.getLogger("prefsmith").warning(
            "%s ends early (a truncated download?): %d whole lines ingested, line %d and "
            "after recorded as a truncated_input reject",
            path, cut.line - 1, cut.line,
        )  # fmt: skip
    report.seconds = time.perf_counter() - started
    return report
