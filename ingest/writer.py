"""What every ingest shares: the report and writing tables parents-first.

Rows are converted in batches and each batch is written as one part per table,
so memory stays flat on any input size, a crash loses at most the batch in
flight, and a rerun skips every row the store already holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from prefsmith.store import Store

DEFAULT_BATCH_ROWS = 50_000
# Parents before children: a crash between writes never leaves a label without its items.
WRITE_ORDER = ("prompts", "candidates", "labels", "rejects")


@dataclass
class IngestReport:
    """What an ingest did: rows read and used, rejects by reason, rows added per table."""

    rows_read: int = 0
    rows_used: int = 0
    rejects_by_reason: Counter[str] = field(default_factory=Counter)
    added: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    extra: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    def merge(self, other: IngestReport) -> None:
        self.rows_read += other.rows_read
        self.rows_used += other.rows_used
        self.seconds += other.seconds
        for mine, theirs in (
            (self.rejects_by_reason, other.rejects_by_reason),
            (self.added, other.added),
            (self.duplicates, other.duplicates),
            (self.extra, other.extra),
        ):
            mine.update(theirs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rejected": sum(self.rejects_by_reason.values()),
            "rejects_by_reason": dict(self.rejects_by_reason.most_common()),
            "added": {t: self.added.get(t, 0) for t in WRITE_ORDER},
            "duplicates": {t: self.duplicates.get(t, 0) for t in WRITE_ORDER},
            **self.extra,
            "seconds": round(self.seconds, 3),
        }


def write_tables(store: Store, tables: dict[str, list[pa.Table]], report: IngestReport) -> None:
    """Write each table's pieces as one part, parents first, counting added and duplicate rows."""
    for name in WRITE_ORDER:
        pieces = [piece for piece in tables.get(name, []) if piece.num_rows]
        if pieces:
            result = store.write(name, pa.concat_tables(pieces))
            report.added[name] += result.added
            report.duplicates[name] += result.duplicates
