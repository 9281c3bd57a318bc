"""`prefsmith ingest pairs` and `ingest labels`: judged pairs and rankings from any layout.

Each usable row gives a prompt, its answers and one label per labeler (the verdict column and
every `--also NAME=FIELD`). Every other row is a reject with its reason. Within one ingest a
pair judged twice the same way is a `duplicate_pair`; judged two ways, a `conflicting_verdict`
(or a tie with `conflicts: tie`). Labels are written when the source is read whole, so a
conflict found late still takes its pair out; prompts and answers go in batches.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import xxhash

from prefsmith.ingest.pair_layouts import RowProblem
from prefsmith.ingest.pair_rows import JudgedRow, PairRules, convert_row, label_of
from prefsmith.ingest.writer import DEFAULT_BATCH_ROWS, IngestReport, write_tables
from prefsmith.schemas.batching import batched
from prefsmith.schemas.records import Label, Reject, SourceRow, load_json, now, to_table
from prefsmith.store import Store
from prefsmith.store.tables import EncodedPart


def judgment_text(labeler: str, prompt_id: str, candidate_ids: list[str]) -> str:
    """What identifies a labeler's judgment of some answers, whatever their order."""
    return f"{labeler}\x1f{prompt_id}{''.join(sorted(candidate_ids))}"


def judgment_key(labeler: str, prompt_id: str, candidate_ids: list[str]) -> int:
    """`judgment_text` hashed to an int: a million held keys stay small."""
    return xxhash.xxh3_128_intdigest(judgment_text(labeler, prompt_id, candidate_ids).encode())


def _judgment(label: Label) -> tuple[int, Any]:
    """(the pair's key whatever the order, what was said about it)."""
    pairs = sorted(zip(label.candidate_ids, label.scores or [], strict=True))
    return judgment_key(label.labeler, label.prompt_id, label.candidate_ids), tuple(
        s for _, s in pairs
    )


# What a fast row says about its pair, its answers in id order: by side, then swapped or not.
SCORES = ((1.0, 0.0), (0.0, 1.0), (0.5, 0.5))
SAID = [scores[::-1] if swapped else scores for scores in SCORES for swapped in (False, True)]


@dataclass(slots=True)
class _Held:
    """The first judgment of a pair: its Label, or (a fast row) only its input line."""

    label: Label | None
    said: Any
    line: int
    conflict: bool = False


class PairIngest:
    """One source's judged rows, row by row (`add_rows`) or as blocks converted column-wise
    (`add_block`, ingest/pair_columns.py), holding every judgment in one place so duplicates
    and conflicts are found across both; `finish` writes the labels.

    A fast row is held as one int, `line << 3 | said` (an index into SAID), and its label stays
    in its block's encoded Parquet part until `finish`: a million pairs fit in little memory.
    """

    def __init__(self, store: Store, rules: PairRules, source_key: str) -> None:
        self.store, self.rules, self.source_key = store, rules, source_key
        self.report = IngestReport()
        self.held: dict[int, _Held | int] = {}
        self.parts: list[EncodedPart] = []  # fast blocks' labels
        self.first_lines: list[int] = []  # of each fast block
        self.dropped: set[int] = set()  # lines whose fast label is not kept
        self.rejects: list[Reject] = []
        self.kept: list[_Held] = []  # what `finish` looks at: row labels and conflicts
        self.started = time.perf_counter()

    def add_rows(self, rows: Iterable[SourceRow], batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        rules, report = self.rules, self.report
        for batch in batched(rows, batch_rows):
            prompts, candidates, rejects = [], [], []
            for row in batch:
                report.rows_read += 1
                reason, judged = row.reason, None
                if reason is None and row.record is not None:
                    try:
                        judged = convert_row(row.record, rules)
                    except RowProblem as problem:
                        reason = problem.reason
                if judged is not None and _unknown(judged, rules.known):
                    reason, judged = "unknown_candidate", None
                if judged is not None:
                    reason = self._hold_row(judged, row.line)
                if reason is not None:
                    report.rejects_by_reason[reason] += 1
                    rejects.append(Reject.of_row(row, self.source_key, reason))
                    continue
                report.rows_used += 1
                if rules.known is None:
                    prompts.append(judged.prompt)
                    candidates += judged.answers
            stamp = now()
            self.write({"prompts": [to_table("prompts", prompts, stamp)],
                        "candidates": [to_table("candidates", candidates, stamp)],
                        "rejects": [to_table("rejects", rejects, stamp)]})  # fmt: skip

    def write(self, tables: dict[str, list[pa.Table]]) -> None:
        write_tables(self.store, tables, self.report)

    def _hold_row(self, judged: JudgedRow, line: int) -> str | None:
        """Keep the row's labels; the reject reason if its main verdict repeats or contradicts."""
        for labeler, verdict in judged.verdicts.items():
            label = label_of(judged, labeler, verdict, self.rules.fingerprint)
            key, said = _judgment(label)
            reason = self.hold(key, said, line, label)
            if reason is not None and labeler == self.rules.labeler:
                return reason
        return None

    def hold(self, key: int, said: Any, line: int, label: Label | None = None) -> str | None:
        """Hold a judgment of pair `key`; `duplicate_pair` or `conflicting_verdict` if held."""
        earlier = self.held.get(key)
        if earlier is None:
            self.held[key] = entry = _Held(label, said, line)
            if label is not None:
                self.kept.append(entry)
            return None
        if isinstance(earlier, int):
            earlier = self.held[key] = _Held(None, SAID[earlier & 7], earlier >> 3)
        if earlier.said == said:
            return "duplicate_pair"
        if not earlier.conflict and earlier.label is None:
            self.kept.append(earlier)
        earlier.conflict = True
        return "conflicting_verdict"

    def add_block(self, first_line: int, labels: EncodedPart, keys: list[int],
                  values: list[int]) -> list[tuple[int, str]]:  # fmt: skip
        """A fast block's labels and held values (`line << 3 | said`); the (line, reason) of
        its rows that repeat or contradict a held judgment."""
        self.parts.append(labels)
        self.first_lines.append(first_line)
        held = self.held
        if len(set(keys)) == len(keys) and held.keys().isdisjoint(keys):
            held.update(zip(keys, values, strict=True))  # in C: a million rows pass here
            return []
        problems = []
        for key, value in zip(keys, values, strict=True):
            if key not in held:
                held[key] = value
            elif (reason := self.hold(key, SAID[value & 7], value >> 3)) is not None:
                self.dropped.add(value >> 3)
                problems.append((value >> 3, reason))
        return problems

    def reject(self, line: int, reason: str, raw: str) -> None:
        """A fast block's row that repeats or contradicts a held judgment."""
        self.report.rejects_by_reason[reason] += 1
        self.rejects.append(Reject(self.source_key, line, reason, raw))

    def finish(self) -> IngestReport:
        """Write the held labels (conflicted pairs out, or as ties) and the late rejects."""
        labels, rejects = [], self.rejects
        for entry in self.kept:
            if not entry.conflict:
                labels.append(entry.label)
                continue
            first = entry.label or self._fast_label(entry.line)
            if entry.label is None:
                self.dropped.add(entry.line)
            if self.rules.conflicts == "tie":
                labels.append(Label(first.labeler, first.fingerprint, first.kind, first.prompt_id,
                                    first.candidate_ids, [0.5] * len(first.candidate_ids),
                                    first.details))  # fmt: skip
                self.report.extra["conflicts_as_ties"] += 1
            elif first.labeler == self.rules.labeler:
                self.report.rows_used -= 1
                self.report.rejects_by_reason["conflicting_verdict"] += 1
                raw = f"line {entry.line}: judged again with another verdict"
                rejects.append(Reject(self.source_key, entry.line, "conflicting_verdict", raw))
        stamp = now()
        for part in batched(labels, DEFAULT_BATCH_ROWS):
            self.write({"labels": [to_table("labels", part, stamp)]})
        for first_line, part in zip(self.first_lines, self.parts, strict=True):
            self._write_part(first_line, part)
        self.write({"rejects": [to_table("rejects", rejects, stamp)]})
        self.report.seconds = time.perf_counter() - self.started
        return self.report

    def _write_part(self, first_line: int, part: EncodedPart) -> None:
        end = first_line + len(part.keys)
        drop = [line - first_line for line in self.dropped if first_line <= line < end]
        if not drop:
            result = self.store.write_encoded("labels", part)
            self.report.added["labels"] += result.added
            self.report.duplicates["labels"] += result.duplicates
            return
        table = pq.read_table(pa.BufferReader(part.data))
        keep = sorted(set(range(table.num_rows)) - set(drop))
        self.write({"labels": [table.take(pa.array(keep, pa.int64()))]})

    def _fast_label(self, line: int) -> Label:
        piece = bisect.bisect_right(self.first_lines, line) - 1
        table = pq.read_table(pa.BufferReader(self.parts[piece].data))
        row = table.slice(line - self.first_lines[piece], 1).to_pylist()[0]
        return Label(row["labeler"], row["fingerprint"], row["kind"], row["prompt_id"],
                     row["candidate_ids"], row["scores"], load_json(row["details"]) or {},
                     label_id=row["label_id"])  # fmt: skip


def ingest_pair_rows(
    rows: Iterable[SourceRow],
    store: Store,
    rules: PairRules,
    *,
    source_key: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> IngestReport:
    """Rows of one source -> prompts, answers and labels (see the module docstring)."""
    ingest = PairIngest(store, rules, source_key)
    ingest.add_rows(rows, batch_rows)
    return ingest.finish()


def _unknown(judged: JudgedRow, known: dict[str, str] | None) -> bool:
    return known is not None and any(a.candidate_id not in known for a in judged.answers)
