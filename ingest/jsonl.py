"""One JSONL line -> a SourceRow (decoded record, or why it couldn't be decoded)."""

from __future__ import annotations

import orjson

from prefsmith.schemas.records import SourceRow


def parse_jsonl_line(number: int, line: bytes) -> SourceRow | None:
    """The row of one JSONL line (None for a blank line).

    A good row keeps its raw bytes undecoded: the text is only needed if the row
    is rejected later, and decoding every line would cost the hot path ~10%.
    """
    line = line.rstrip(b"\r")
    if not line.strip():
        return None
    try:
        record = orjson.loads(line)  # validates UTF-8 too
    except orjson.JSONDecodeError:
        try:
            return SourceRow(number, None, "invalid_json", line.decode("utf-8"))
        except UnicodeDecodeError:
            raw = line.decode("utf-8", "backslashreplace")
            return SourceRow(number, None, "undecodable_bytes", raw)
    if not isinstance(record, dict):
        return SourceRow(number, None, "invalid_json", line)
    return SourceRow(number, record, None, line)
