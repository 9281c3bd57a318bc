"""What hh-rlhf ingest workers run: parse a block of lines, build the tables and
encode them as Parquet parts. Kept apart so a spawned worker imports only the
parser, pyarrow and the store's encoder, never Prefect."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone

from prefsmith.ingest.hh_columns import convert_hh_block
from prefsmith.ingest.sources import FileSpan
from prefsmith.store.tables import EncodedPart


@dataclass(frozen=True, slots=True)
class EncodedBlock:
    parts: dict[str, EncodedPart]
    rows_read: int
    rows_used: int
    rejects_by_reason: Counter[str]


def convert_block(
    block: tuple[int, bytes | FileSpan], source_key: str, source_name: str, allow_empty: bool
) -> EncodedBlock:
    """Parquet parts for a block of whole JSONL lines starting at line `block[0]`
    (parsed column-wise: `schemas.hh_columns`)."""
    first_line, data = block
    line_count = None
    if isinstance(data, FileSpan):
        line_count, data = data.line_count, data.read()
    converted = convert_hh_block(
        data,
        first_line,
        source_key=source_key,
        source_name=source_name,
        allow_empty=allow_empty,
        created_at=datetime.now(timezone.utc),
        line_count=line_count,
    )
    parts = {name: EncodedPart.encode(name, table) for name, table in converted.tables.items()}
    return EncodedBlock(
        parts, converted.rows_read, converted.rows_used, converted.rejects_by_reason
    )
