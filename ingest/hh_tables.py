"""hh-rlhf rows -> the store's Arrow tables, built column by column.

This is the ingest hot path (millions of rows), so it skips per-row record
objects: `build_tables` turns flat columns (turn roles and contents, answers,
line numbers) into exactly the rows `Prompt`, `Candidate` and `Label` records
would give. `convert_hh_rows` fills those columns with the per-row parser.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import orjson
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from prefsmith.ingest.hh_rows import (
    LABELER,
    ORIGIN_CHOSEN,
    ORIGIN_REJECTED,
    HHRowError,
    parse_pair,
)
from prefsmith.schemas import ids
from prefsmith.schemas.records import (
    MESSAGE_TYPE,
    TABLES,
    TIMESTAMP_TYPE,
    Reject,
    SourceRow,
    to_table,
)

FINGERPRINT = ids.fingerprint(labeler=LABELER, version=1)
ROLES = ("system", "user", "assistant")
ROLE_CODES = {role: code for code, role in enumerate(ROLES)}


@dataclass
class ConvertedRows:
    """Arrow tables for a batch of input rows, and what happened to each row."""

    tables: dict[str, pa.Table]
    rows_read: int = 0
    rows_used: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)


def _first_occurrences(values: pa.Array) -> pa.Array:
    """True where a value is seen for the first time."""
    return pl.Series(values).is_first_distinct().to_arrow()


def _lists(offsets: list[int] | np.ndarray, values: pa.Array) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values)


def _empty_lists(count: int, value_type: pa.DataType) -> pa.Array:
    return _lists([0] * (count + 1), pa.array([], value_type))


def _constant(value: object, count: int, value_type: pa.DataType) -> pa.Array:
    return pa.repeat(pa.scalar(value, value_type), count)


def _coded(codes: list[int] | np.ndarray, values: tuple[str, ...]) -> pa.Array:
    # pa.array() over many references to a few strings is ~10x slower than a take().
    return pa.array(values, pa.string()).take(pa.array(codes, pa.int8()))


def pair_label_key(chosen_id: str, rejected_id: str) -> str:
    """What the id of the human choice between a row's two answers hashes (chosen first)."""
    return ids.label_key((chosen_id, rejected_id), LABELER, FINGERPRINT)


def pair_label_id(chosen_id: str, rejected_id: str) -> str:
    return ids.hash_key(pair_label_key(chosen_id, rejected_id))


def build_tables(
    *,
    prompt_ids: Sequence[str],
    roles: Sequence[int],
    contents: Sequence[str],
    turn_counts: Sequence[int],
    chosen: Sequence[str],
    rejected: Sequence[str],
    lines: Sequence[int],
    source_name: str,
    created_at: datetime,
) -> ConvertedRows:
    """Tables for parsed pairs: row i is prompt `prompt_ids[i]` with `turn_counts[i]` turns
    (role codes into ROLES and contents, flat), answered by `chosen[i]` and `rejected[i]`."""
    candidate_ids, label_ids = [], []
    for row, prompt in enumerate(prompt_ids):
        chosen_id = ids.candidate_id(prompt, chosen[row])
        rejected_id = ids.candidate_id(prompt, rejected[row])
        candidate_ids += (chosen_id, rejected_id)
        label_ids.append(pair_label_id(chosen_id, rejected_id))
    offsets = [0]
    for turns in turn_counts:
        offsets.append(offsets[-1] + turns)
    messages = pa.StructArray.from_arrays(
        [_coded(list(roles), ROLES), pa.array(contents, pa.string())], fields=list(MESSAGE_TYPE)
    )
    return assemble_tables(
        prompt_ids=list(prompt_ids),
        messages=_lists(offsets, messages),
        chosen=pa.array(chosen, pa.string()),
        rejected=pa.array(rejected, pa.string()),
        candidate_ids=candidate_ids,
        label_ids=label_ids,
        lines=lines,
        source_name=source_name,
        created_at=created_at,
    )


def assemble_tables(
    *,
    prompt_ids: list[str],
    messages: pa.Array,
    chosen: pa.Array,
    rejected: pa.Array,
    candidate_ids: list[str],
    label_ids: list[str],
    lines: Sequence[int] | np.ndarray,
    source_name: str,
    created_at: datetime,
) -> ConvertedRows:
    """The prompts, candidates and labels tables of parsed pairs whose ids are known: row i
    is `prompt_ids[i]` (`messages[i]`), answered by `chosen[i]` and `rejected[i]` with ids
    `candidate_ids[2i]`, `candidate_ids[2i+1]`. A prompt's first row gives its prompt row."""
    count = len(prompt_ids)
    prompt_column = pa.array(prompt_ids, pa.string())
    keep = pc.indices_nonzero(_first_occurrences(prompt_column))
    n_prompts, n_candidates = len(keep), 2 * count
    details = pc.binary_join_element_wise(
        '{"source":' + orjson.dumps(source_name).decode() + ',"line":',
        pc.cast(pa.array(lines, pa.int64()), pa.string()),
        "}",
        "",
    )
    tables = {
        "prompts": pa.table(
            [
                prompt_column.take(keep),
                messages.take(keep),
                _empty_lists(n_prompts, pa.string()),
                _constant(source_name, n_prompts, pa.string()),
                pa.nulls(n_prompts, pa.string()),
                _constant("{}", n_prompts, pa.string()),
                _constant(created_at, n_prompts, TIMESTAMP_TYPE),
            ],
            schema=TABLES["prompts"].schema,
        )
    }
    rows = np.arange(count, dtype=np.int64)
    candidate_column = pa.array(candidate_ids, pa.string())
    tables["candidates"] = pa.table(
        [
            candidate_column,
            prompt_column.take(rows.repeat(2)),
            pa.concat_arrays([chosen, rejected]).take(np.stack([rows, rows + count], 1).ravel()),
            _empty_lists(n_candidates, MESSAGE_TYPE),
            _coded(np.tile(np.array([0, 1], np.int8), count), (ORIGIN_CHOSEN, ORIGIN_REJECTED)),
            _constant("{}", n_candidates, pa.string()),
            _constant(created_at, n_candidates, TIMESTAMP_TYPE),
        ],
        schema=TABLES["candidates"].schema,
    )
    pair_offsets = np.arange(0, 2 * count + 1, 2, dtype=np.int32)
    tables["labels"] = pa.table(
        [
            pa.array(label_ids, pa.string()),
            _constant(LABELER, count, pa.string()),
            _constant(FINGERPRINT, count, pa.string()),
            _constant("pairwise", count, pa.string()),
            prompt_column,
            _lists(pair_offsets, candidate_column),
            _lists(pair_offsets, pa.array(np.tile([1.0, 0.0], count), pa.float64())),
            details,
            pa.nulls(count, pa.string()),
            _constant(created_at, count, TIMESTAMP_TYPE),
        ],
        schema=TABLES["labels"].schema,
    )
    return ConvertedRows(tables, rows_read=count, rows_used=count)


def convert_hh_rows(
    rows: Iterable[SourceRow],
    *,
    source_key: str,
    source_name: str,
    allow_empty: bool,
    created_at: datetime,
) -> ConvertedRows:
    """One prompt, two candidates and one human pairwise label per usable row (per-row parser)."""
    prompt_ids, roles, contents, turn_counts, chosen, rejected, lines = [], [], [], [], [], [], []
    rejects: list[Reject] = []
    reasons: Counter[str] = Counter()
    for row in rows:
        reason = row.reason
        if reason is None:
            try:
                pair = parse_pair(row.record, allow_empty=allow_empty)
            except HHRowError as error:
                reason = error.reason
        if reason is not None:
            reasons[reason] += 1
            rejects.append(Reject.of_row(row, source_key, reason))
            continue
        prompt_ids.append(ids.prompt_id_of_turns(pair.turns))
        for role, content in pair.turns:
            roles.append(ROLE_CODES[role])
            contents.append(content)
        turn_counts.append(len(pair.turns))
        chosen.append(pair.chosen)
        rejected.append(pair.rejected)
        lines.append(row.line)
    result = build_tables(
        prompt_ids=prompt_ids,
        roles=roles,
        contents=contents,
        turn_counts=turn_counts,
        chosen=chosen,
        rejected=rejected,
        lines=lines,
        source_name=source_name,
        created_at=created_at,
    )
    result.tables["rejects"] = to_table("rejects", rejects, created_at)
    result.rows_read += len(rejects)
    result.rejects_by_reason = reasons
    return result
