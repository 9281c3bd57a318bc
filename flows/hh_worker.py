"""The function hh-rlhf ingest workers run. Kept apart so a spawned worker imports
only the parser and pyarrow, not polars, Prefect or the store."""

from __future__ import annotations

from datetime import datetime, timezone

from prefsmith.flows.sources import parse_jsonl_lines
from prefsmith.schemas.hh_tables import ConvertedRows, convert_hh_rows


def convert_block(
    block: tuple[int, bytes], source_key: str, source_name: str, allow_empty: bool
) -> ConvertedRows:
    """Arrow tables for a block of whole JSONL lines starting at line `block[0]`."""
    first_line, data = block
    return convert_hh_rows(
        parse_jsonl_lines(data.split(b"\n"), first_line),
        source_key=source_key,
        source_name=source_name,
        allow_empty=allow_empty,
        created_at=datetime.now(timezone.utc),
    )
