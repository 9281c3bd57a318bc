"""What `ingest pairs` workers run on a block of JSONL lines: read it with polars, check that
every row is the common case (else the block goes per row), and build its prompts, answers and
labels as Parquet parts with each row's judgment key. Kept apart, as hh_worker.py is, so a
spawned worker imports no Prefect and nothing of the store but its encoder."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import pairwise

import numpy as np
import polars as pl
import pyarrow as pa
import xxhash

from prefsmith.ingest.hh_columns import _PER_ROW_ESCAPES, _digests, _length_prefixed
from prefsmith.ingest.pair_layouts import PairLayout
from prefsmith.ingest.pairs import SCORES as PAIR_SCORES
from prefsmith.ingest.pairs import judgment_text
from prefsmith.ingest.sources import FileSpan
from prefsmith.schemas.records import MESSAGE_TYPE, TABLES
from prefsmith.store.tables import EncodedPart

SIDES = ("first", "second", "tie")
SCORES = np.array(PAIR_SCORES)
_NUMBERS = (pl.Int64, pl.Int32, pl.Float64)


@dataclass(frozen=True)
class PairBlock:
    """A converted block: Parquet parts of its prompts, answers and labels, and each row's
    judgment key and held value (`line << 3 | said`); or its lines, to go per row."""

    first_line: int
    parts: dict[str, EncodedPart] | None
    keys: list[int]
    values: list[int]
    data: bytes | FileSpan = b""


@dataclass(frozen=True)
class BlockConverter:
    """What a worker runs on a block (picklable: the layout and the names only)."""

    layout: PairLayout
    labeler: str
    fingerprint: str
    source_name: str

    def __call__(self, block: tuple[int, bytes | FileSpan]) -> PairBlock:
        first_line, where = block
        data = where.read() if isinstance(where, FileSpan) else where
        line_count = where.line_count if isinstance(where, FileSpan) else None
        frame = _usable_frame(data, self.layout, line_count)
        if frame is None:
            return PairBlock(first_line, None, [], [], data)
        # a span is read again only if a row turns out a duplicate: the bytes stay here
        return self._tables(frame, first_line, where if isinstance(where, FileSpan) else data)

    def _tables(self, frame: pl.DataFrame, first_line: int, data: bytes | FileSpan) -> PairBlock:
        stamp = datetime.now(timezone.utc)
        texts = frame.select(prompt="_prompt", a="_a", b="_b")
        user = pl.concat_str(pl.lit("user:"), _length_prefixed(pl.col("prompt")))
        ids = pl.DataFrame({"prompt_id": _digests(texts, user)})
        texts = texts.with_columns(prompt_id=ids["prompt_id"])
        ids = ids.with_columns(
            a=pl.Series(_digests(texts, pl.concat_str("prompt_id", _length_prefixed(pl.col("a"))))),
            b=pl.Series(_digests(texts, pl.concat_str("prompt_id", _length_prefixed(pl.col("b"))))),
            side=frame["side"],
        )
        tail = f"#{len(self.labeler)}:{self.labeler}#{self.fingerprint}"
        keyed = ids.select(
            label_id=pl.concat_str("a", pl.lit("|"), "b", pl.lit(tail)),
            key=pl.concat_str(pl.lit(judgment_text(self.labeler, "", [])), "prompt_id",
                              pl.min_horizontal("a", "b"), pl.max_horizontal("a", "b")),
            value=(pl.int_range(pl.len()) + first_line) * 8 + pl.col("side") * 2
            + (pl.col("a") > pl.col("b")).cast(pl.Int64),
        )  # fmt: skip
        label_ids = _digests(keyed, pl.col("label_id"))
        parts = {
            "prompts": EncodedPart.encode("prompts", self._prompts(frame, ids, stamp)),
            "candidates": EncodedPart.encode("candidates", self._candidates(frame, ids, stamp)),
            "labels": EncodedPart.encode("labels", self._labels(frame, ids, label_ids, stamp)),
        }
        keys = _int_digests(keyed["key"])
        return PairBlock(first_line, parts, keys, keyed["value"].to_list(), data)

    def _labels(self, frame, ids, label_ids, stamp: datetime) -> pa.Table:
        n = frame.height
        pairs = _interleaved(_arrow(ids["a"]), _arrow(ids["b"]))
        offsets = pa.array(np.arange(0, 2 * n + 1, 2, dtype=np.int32))
        scores = pa.array(SCORES[ids["side"].to_numpy()].ravel())
        return pa.table(
            {
                "label_id": pa.array(label_ids, pa.string()),
                "labeler": pa.repeat(self.labeler, n),
                "fingerprint": pa.repeat(self.fingerprint, n),
                "kind": pa.repeat("pairwise", n),
                "prompt_id": _arrow(ids["prompt_id"]),
                "candidate_ids": pa.ListArray.from_arrays(offsets, pairs),
                "scores": pa.ListArray.from_arrays(offsets, scores),
                "details": _arrow(_details(frame, self.layout)),
                "error": pa.nulls(n, pa.string()),
                "created_at": _stamps(stamp, n),
            },
            schema=TABLES["labels"].schema,
        )

    def _prompts(self, frame, ids, stamp: datetime) -> pa.Table:
        n = frame.height
        messages = frame.select(
            pl.concat_list(pl.struct(role=pl.lit("user"), content=pl.col(self.layout.prompt)))
        ).to_series()
        return pa.table(
            {
                "prompt_id": _arrow(ids["prompt_id"]),
                "messages": _arrow(messages).cast(pa.list_(MESSAGE_TYPE)),
                "followups": _empty_lists(n, pa.string()),
                "source": pa.repeat(self.source_name, n),
                "reference": pa.nulls(n, pa.string()),
                "metadata": pa.repeat("{}", n),
                "created_at": _stamps(stamp, n),
            },
            schema=TABLES["prompts"].schema,
        )

    def _candidates(self, frame, ids, stamp: datetime) -> pa.Table:
        n, layout = frame.height, self.layout
        origins = [self._origins(frame, c) for c in (layout.first_model, layout.second_model)]
        prompt_ids = _arrow(ids["prompt_id"])
        return pa.table(
            {
                "candidate_id": _interleaved(_arrow(ids["a"]), _arrow(ids["b"])),
                "prompt_id": _interleaved(prompt_ids, prompt_ids),
                "content": _interleaved(_arrow(frame[layout.first]), _arrow(frame[layout.second])),
                "extra_turns": _empty_lists(2 * n, MESSAGE_TYPE),
                "origin": _interleaved(*origins),
                "metadata": pa.repeat("{}", 2 * n),
                "created_at": _stamps(stamp, 2 * n),
            },
            schema=TABLES["candidates"].schema,
        )

    def _origins(self, frame: pl.DataFrame, column: str | None) -> pa.Array:
        source = self.source_name
        if column is None:
            return pa.repeat(source, frame.height)
        model = pl.col(column).cast(pl.String)
        named = model.is_not_null() & (model != "")
        origin = (
            pl.when(named)
            .then(pl.concat_str(pl.lit(f"{source}:"), model))
            .otherwise(pl.lit(source))
        )
        return _arrow(frame.select(origin).to_series())


def _int_digests(keys: pl.Series) -> list[int]:
    """`pairs.judgment_key` of each text: XXH3-128 as an int, read in place from Arrow."""
    array = _arrow(keys)
    _, offsets, data = array.buffers()
    ends = np.frombuffer(offsets, np.int64)[array.offset : array.offset + len(array) + 1].tolist()
    text, digest = memoryview(data), xxhash.xxh3_128_intdigest
    return [digest(text[start:end]) for start, end in pairwise(ends)]


def _arrow(series: pl.Series) -> pa.Array:
    return series.to_arrow(compat_level=pl.CompatLevel.oldest())


def _stamps(stamp: datetime, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(stamp, TABLES["labels"].schema.field("created_at").type), n)


def _empty_lists(n: int, value_type: pa.DataType) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], value_type))


def _interleaved(first: pa.Array, second: pa.Array) -> pa.Array:
    """first[0], second[0], first[1], second[1], ..."""
    n = len(first)
    order = np.empty(2 * n, np.int64)
    order[0::2], order[1::2] = np.arange(n), np.arange(n) + n
    return pa.concat_arrays([first.cast(pa.string()), second.cast(pa.string())]).take(order)


def _details(frame: pl.DataFrame, layout: PairLayout) -> pl.Series:
    """The label's details as `dump_json` writes them: subset, then margin."""
    fields = {}
    if layout.subset:
        fields["subset"] = pl.col(layout.subset).cast(pl.String)
    if layout.strength:
        fields["margin"] = pl.col(layout.strength).cast(pl.Float64).abs()
    if not fields:
        return pl.Series(["{}"] * frame.height)
    return frame.select(pl.struct(**fields).struct.json_encode()).to_series()


def _read(data: bytes, layout: PairLayout, line_count: int) -> pl.DataFrame | None:
    texts = [layout.prompt, layout.first, layout.second]
    try:
        frame = pl.read_ndjson(io.BytesIO(data), schema_overrides=dict.fromkeys(texts, pl.String))
    except pl.exceptions.PolarsError:
        return None
    return frame if frame.height == line_count else None


def _sides(frame: pl.DataFrame, layout: PairLayout) -> pl.Series | None:
    """Each row's verdict as an index into SIDES (null: a value outside the mapping)."""
    if layout.winner is None:
        return pl.Series("side", [0] * frame.height, pl.Int64)
    if layout.winner not in frame.columns:
        return None
    column = frame[layout.winner]
    if column.dtype == pl.Float64:
        if not (column.is_not_null() & (column == column.round(0))).all():
            return None
        column = column.cast(pl.Int64)
    if column.dtype not in (pl.String, pl.Int64, pl.Int32):
        return None
    codes = {value: SIDES.index(side) for value, side in layout.values.items()}
    return column.cast(pl.String).replace_strict(codes, default=None, return_dtype=pl.Int64)


def _plain(frame: pl.DataFrame, column: str | None, kinds: tuple) -> bool:
    return column is None or (column in frame.columns and frame[column].dtype in kinds)


def _usable_frame(data: bytes, layout: PairLayout, line_count: int | None) -> pl.DataFrame | None:
    """The block read by polars when every row is the common case, else None."""
    if line_count is None:
        line_count = data.count(b"\n") + (not data.endswith(b"\n"))
    if b"\\u" in data and _PER_ROW_ESCAPES.search(data):
        return None
    frame = _read(data, layout, line_count)
    if frame is None:
        return None
    sides = _sides(frame, layout)
    plain = (layout.subset, layout.first_model, layout.second_model)
    if sides is None or not all(_plain(frame, c, (pl.String, pl.Int64)) for c in plain):
        return None
    if not _plain(frame, layout.strength, _NUMBERS):
        return None
    frame = frame.with_columns(
        _prompt=pl.col(layout.prompt).str.strip_chars(),
        _a=pl.col(layout.first).str.strip_chars(),
        _b=pl.col(layout.second).str.strip_chars(),
    )
    prompt, a, b = pl.col("_prompt"), pl.col("_a"), pl.col("_b")
    checks = [
        prompt != "", a != "", b != "", a != b,
        ~prompt.str.starts_with("Human:"),
        ~pl.col(layout.prompt).str.slice(0, 200).str.contains("\n\nHuman:", literal=True),
    ]  # fmt: skip
    if layout.subset:
        checks.append(pl.col(layout.subset).is_not_null())
    if layout.strength:
        checks.append(pl.col(layout.strength).cast(pl.Float64).is_not_nan().fill_null(False))
    usable = frame.select(pl.all_horizontal(checks).fill_null(False)).to_series()
    if not (usable & sides.is_not_null()).all():
        return None
    return frame.with_columns(side=sides)
