"""A JSONL file in blocks of whole lines, converted in worker processes and collected in
file order: what the column-wise ingests (hh-rlhf, judged pairs) share."""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import TypeVar

from prefsmith.ingest.sources import FileSpan, jsonl_spans, read_jsonl_blocks

T = TypeVar("T")
POLARS_ONE_THREAD = ("POLARS_MAX_THREADS", "1")
PARALLEL_MIN_BYTES = 64 << 20  # below this, starting worker processes costs more than it saves


def spans_or_blocks(
    path: Path, block_bytes: int
) -> Iterator[tuple[tuple[int, bytes | FileSpan], int]]:
    """((first line, what a worker converts), bytes consumed): spans a worker reads itself
    for a plain file, the decompressed bytes for a gzip one."""
    if path.name.lower().endswith(".gz"):
        for first_line, data, position in read_jsonl_blocks(path, block_bytes):
            yield (first_line, data), position
    else:
        for first_line, span in jsonl_spans(path, block_bytes):
            yield (first_line, span), span.end


def default_workers(path: Path) -> int:
    """One worker process per core (at most 8) for a file of 64 MB or more, else none."""
    big = path.stat().st_size >= PARALLEL_MIN_BYTES
    return min(len(os.sched_getaffinity(0)), 8) if big else 1


def convert_blocks(
    path: Path,
    block_bytes: int,
    workers: int,
    convert: Callable[[tuple[int, bytes | FileSpan]], T],
    collect: Callable[[T], None],
    on_progress: Callable[[int], None] | None = None,
) -> None:
    """`convert` every block of whole lines of a JSONL file (in `workers` processes, or here
    with one), and `collect` the results in file order, in this process."""
    if workers <= 1:
        for first_line, data, position in read_jsonl_blocks(path, block_bytes):
            collect(convert((first_line, data)))
            if on_progress is not None:
                on_progress(position)
    else:
        # spawn, not fork: Prefect's threads may hold locks a forked child would inherit.
        context = multiprocessing.get_context("spawn")
        in_flight: deque[Future[T]] = deque()
        # One polars thread per worker: the workers already use every core.
        with ProcessPoolExecutor(
            workers, mp_context=context, initializer=os.putenv, initargs=POLARS_ONE_THREAD
        ) as pool:
            try:
                for block, position in spans_or_blocks(path, block_bytes):
                    in_flight.append(pool.submit(convert, block))
                    if len(in_flight) >= 2 * workers:
                        collect(in_flight.popleft().result())
                    if on_progress is not None:
                        on_progress(position)
            finally:  # a truncated file: the blocks read before the cut are still written
                while in_flight:
                    collect(in_flight.popleft().result())
