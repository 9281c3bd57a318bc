"""hh-rlhf JSONL blocks parsed column-wise: the common row in polars, the odd one per row.

The per-row parser (`schemas.hh_rlhf.parse_pair`) is the specification. This
path runs its common case as polars string expressions over a whole block:
one final `\\n\\nAssistant:` turn in each dialogue, the rejected dialogue equal
to the chosen one up to it, a prompt that starts with a Human turn and ends
with one, two non-empty different answers. A row that is anything else is
handed to the per-row parser, and a block whose bytes could read differently
in polars and in orjson goes to it whole, so both paths store the same rows
(tests/flows/test_hh_ingest.py compares them).
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from itertools import pairwise

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from prefsmith.ingest.hh_rows import ASSISTANT_MARKER, HUMAN_MARKER
from prefsmith.ingest.hh_tables import (
    ConvertedRows,
    assemble_tables,
    convert_hh_rows,
    pair_label_key,
)
from prefsmith.ingest.jsonl import parse_jsonl_line
from prefsmith.schemas.records import MESSAGE_TYPE

# Blocks whose bytes could read differently in polars and in orjson go per row whole:
# a lone high surrogate escape (orjson rejects it, polars reads "\x00"), escaped
# \x1c-\x1f (Python's strip() removes them, Rust's trim doesn't), and escaped printable
# ASCII (it could spell a key twice without the key's literal bytes: polars keeps a
# line's first value of a key, orjson the last). Raw control bytes need no check: both
# refuse them.
_PER_ROW_ESCAPES = re.compile(
    rb"\\u(?:[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|001[c-fC-F]|00[2-7][0-9a-fA-F])"
)
_SEPARATOR = "\x1f"  # splits the turns; absent from every text the fast path sees


def _one_key_each(
    data: bytes, line_count: int, lines: Callable[[], list[bytes]], none_missing: bool
) -> bool:
    """No line names "chosen" or "rejected" twice. The cheap proof: no line lacks a key
    (`none_missing`: polars read no nulls) and each key's bytes occur as often as there
    are lines; else each line is counted."""
    if (
        none_missing
        and data.count(b'"chosen"') == line_count
        and data.count(b'"rejected"') == line_count
    ):
        return True
    return all(line.count(b'"chosen"') <= 1 and line.count(b'"rejected"') <= 1 for line in lines())


def _parsed(frame: pl.DataFrame) -> pl.DataFrame:
    """The block's columns, the prompt turns (role letter + text) and the `fast` flag."""
    every_turn = (
        pl.col("chosen")
        .str.replace_all(HUMAN_MARKER, _SEPARATOR + "U", literal=True)
        .str.replace_all(ASSISTANT_MARKER, _SEPARATOR + "A", literal=True)
        .str.split(_SEPARATOR)
    )
    frame = (
        frame.lazy()
        .with_columns(every_turn=every_turn)
        .with_columns(
            before=pl.col("every_turn").list.first(),
            turns=pl.col("every_turn").list.slice(1, pl.col("every_turn").list.len() - 2),
            final=pl.col("every_turn").list.last(),
        )
        # chosen up to and with its final marker, in characters: what rejected must start with
        .with_columns(head=pl.col("chosen").str.len_chars() - pl.col("final").str.len_chars() + 1)
        .with_columns(
            rejected_follows=pl.col("rejected").str.starts_with(pl.col("chosen").str.head("head")),
            tail=pl.col("rejected").str.slice(pl.col("head")),
            chosen_answer=pl.col("final").str.slice(1).str.strip_chars(),
        )
        .with_columns(rejected_answer=pl.col("tail").str.strip_chars())
    )
    fast = (
        pl.col("final").str.starts_with("A")
        & (pl.col("before") == "")
        & (pl.col("turns").list.first().str.slice(0, 1) == "U")
        & (pl.col("turns").list.last().str.slice(0, 1) == "U")
        & pl.col("rejected_follows")
        & ~pl.col("tail").str.contains(ASSISTANT_MARKER, literal=True)
        & ~pl.col("tail").str.contains(HUMAN_MARKER, literal=True)
        & (pl.col("chosen_answer").str.len_bytes() > 0)
        & (pl.col("rejected_answer").str.len_bytes() > 0)
        & (pl.col("chosen_answer") != pl.col("rejected_answer"))
    )
    return frame.with_columns(fast=fast.fill_null(False)).collect()


def _role_and_text() -> tuple[pl.Expr, pl.Expr]:
    turn = pl.element()
    role = pl.when(turn.str.starts_with("U")).then(pl.lit("user")).otherwise(pl.lit("assistant"))
    return role, turn.str.slice(1).str.strip_chars()


def _length_prefixed(text: pl.Expr) -> pl.Expr:
    """`len:text`, len in code points, as `schemas.ids` builds its keys."""
    return pl.concat_str(text.str.len_chars().cast(pl.String), pl.lit(":"), text)


def _digests(frame: pl.DataFrame, key: pl.Expr) -> list[str]:
    """`ids.hash_key` of each row's `key`: the same hash over the same UTF-8 bytes, read
    in place from the Arrow buffers (no bytes object per key)."""
    keys = frame.select(key).to_series().to_arrow(compat_level=pl.CompatLevel.oldest())
    _, offsets, data = keys.buffers()
    ends = np.frombuffer(offsets, np.int64)[keys.offset : keys.offset + len(keys) + 1].tolist()
    text = memoryview(data)
    digest = xxhash.xxh3_128_hexdigest
    return [digest(text[start:end]) for start, end in pairwise(ends)]


def _fast_tables(
    rows: pl.DataFrame, lines: np.ndarray, source_name: str, created_at: datetime
) -> ConvertedRows:
    role, text = _role_and_text()
    keyed = rows.select(
        key=pl.col("turns")
        .list.eval(pl.concat_str(role, pl.lit(":"), _length_prefixed(text)))
        .list.join(""),
        messages=pl.col("turns").list.eval(pl.struct(role=role, content=text)),
        chosen=pl.col("chosen_answer"),
        rejected=pl.col("rejected_answer"),
    )
    prompt_ids = _digests(keyed, pl.col("key"))
    prompt = pl.Series("prompt_id", prompt_ids)
    chosen_ids = _digests(keyed, pl.concat_str(prompt, _length_prefixed(pl.col("chosen"))))
    rejected_ids = _digests(keyed, pl.concat_str(prompt, _length_prefixed(pl.col("rejected"))))
    label_tail = pair_label_key("", "").removeprefix("|")
    label_ids = [
        xxhash.xxh3_128_hexdigest(f"{chosen}|{rejected}{label_tail}".encode())
        for chosen, rejected in zip(chosen_ids, rejected_ids, strict=True)
    ]
    candidate_ids = chosen_ids + rejected_ids
    candidate_ids[0::2], candidate_ids[1::2] = chosen_ids, rejected_ids

    def arrow(column: str, arrow_type: pa.DataType) -> pa.Array:
        return keyed[column].to_arrow(compat_level=pl.CompatLevel.oldest()).cast(arrow_type)

    return assemble_tables(
        prompt_ids=prompt_ids,
        messages=arrow("messages", pa.list_(MESSAGE_TYPE)),
        chosen=arrow("chosen", pa.string()),
        rejected=arrow("rejected", pa.string()),
        candidate_ids=candidate_ids,
        label_ids=label_ids,
        lines=lines,
        source_name=source_name,
        created_at=created_at,
    )


def convert_hh_block(
    data: bytes,
    first_line: int,
    *,
    source_key: str,
    source_name: str,
    allow_empty: bool,
    created_at: datetime,
    line_count: int | None = None,
) -> ConvertedRows:
    """The tables of a block of whole JSONL lines starting at line `first_line` (`line_count`
    of them, counted here if not given), the same as `convert_hh_rows` over its rows gives."""

    @functools.cache
    def lines() -> list[bytes]:  # split only when some row goes per row
        split = data.split(b"\n")
        return split[:-1] if data.endswith(b"\n") else split

    def per_row(numbers: Iterable[int]) -> ConvertedRows:
        return convert_hh_rows(
            (
                row
                for number in numbers
                if (row := parse_jsonl_line(first_line + number, lines()[number])) is not None
            ),
            source_key=source_key,
            source_name=source_name,
            allow_empty=allow_empty,
            created_at=created_at,
        )

    if line_count is None:
        line_count = data.count(b"\n") + (not data.endswith(b"\n"))
    everything = range(line_count)
    if b"\\u" in data and _PER_ROW_ESCAPES.search(data):
        return per_row(everything)
    try:
        frame = pl.read_ndjson(
            io.BytesIO(data), schema={"chosen": pl.String, "rejected": pl.String}
        )
    except pl.exceptions.PolarsError:
        return per_row(everything)
    if frame.height != line_count:  # a blank line: the line numbers would shift
        return per_row(everything)
    none_missing = not any(frame.null_count().row(0))
    if not _one_key_each(data, line_count, lines, none_missing):
        return per_row(everything)
    frame = _parsed(frame.with_row_index("index"))
    fast = frame.filter("fast")
    odd = per_row(frame.filter(~pl.col("fast"))["index"].to_list())
    if odd.rows_used:  # a usable odd row: its prompt may repeat a fast one's; keep file order
        return per_row(everything)
    numbers = fast["index"].to_numpy().astype(np.int64) + first_line
    result = _fast_tables(fast, numbers, source_name, created_at)
    result.tables["rejects"] = odd.tables["rejects"]
    result.rows_read += odd.rows_read
    result.rejects_by_reason = odd.rejects_by_reason
    return result
