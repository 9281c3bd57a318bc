"""Judged pairs of a JSONL file read column-wise: the common row in polars, the rest per row.

The per-row reader (ingest/pair_rows.py) is the specification. This path runs its common case
over a whole block: a text prompt that is not an hh-style transcript, two non-empty different
text answers, a verdict among the winner values, plain subset, strength and model columns. A
block with any other row, or whose bytes could read differently in polars and in orjson, goes
per row whole (but a line that names a key twice is read as polars reads it, by its first
value: JSON leaves that case open), so both paths store the same rows
(tests/ingest/test_pair_columns.py compares them). Blocks are converted in worker processes
for big files (ingest/blocks.py, ingest/pair_worker.py); this process holds every judgment,
so duplicates and conflicts are found across blocks and both paths.
"""

from __future__ import annotations

from collections.abc import Callable

from prefsmith.ingest.blocks import convert_blocks, default_workers
from prefsmith.ingest.jsonl import parse_jsonl_line
from prefsmith.ingest.pair_layouts import PairLayout
from prefsmith.ingest.pair_worker import BlockConverter, PairBlock
from prefsmith.ingest.pairs import PairIngest
from prefsmith.ingest.sources import FileSpan, SourceFile

BLOCK_BYTES = 16 << 20


def reads_column_wise(layout: PairLayout, source: SourceFile) -> bool:
    """Whether the fast path can take this file: JSONL lines, text prompt and answers."""
    plain = layout.ranking is None and layout.score is None and not layout.by_ids
    return (plain and layout.turn is None and not layout.also and layout.prompt is not None
            and source.kind == "jsonl")  # fmt: skip


def ingest_pair_blocks(
    ingest: PairIngest,
    layout: PairLayout,
    source: SourceFile,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> None:
    """Every block of `source` into `ingest`: column-wise where it can, else per row."""
    rules = ingest.rules
    convert = BlockConverter(layout, rules.labeler, rules.fingerprint, rules.source_name)

    def collect(block: PairBlock) -> None:
        if block.parts is None:
            lines = block.data.removesuffix(b"\n").split(b"\n")
            rows = (parse_jsonl_line(block.first_line + i, line) for i, line in enumerate(lines))
            ingest.add_rows(row for row in rows if row is not None)
            return
        _hold_block(ingest, block)

    workers = default_workers(source.path) if workers is None else workers
    convert_blocks(source.path, BLOCK_BYTES, workers, convert, collect, on_progress)


def _hold_block(ingest: PairIngest, block: PairBlock) -> None:
    problems = ingest.add_block(block.first_line, block.parts["labels"], block.keys, block.values)
    if problems:
        data = block.data.read() if isinstance(block.data, FileSpan) else block.data
        lines = data.split(b"\n")
        for line, reason in problems:
            raw = lines[line - block.first_line].decode("utf-8", "replace")
            ingest.reject(line, reason, raw)
    ingest.report.rows_read += len(block.keys)
    ingest.report.rows_used += len(block.keys) - len(problems)
    for name in ("prompts", "candidates"):
        result = ingest.store.write_encoded(name, block.parts[name])
        ingest.report.added[name] += result.added
        ingest.report.duplicates[name] += result.duplicates
