"""Record types of the store and their Arrow schemas.

Rows are plain dataclasses so labelers and builders can use them without the
store; `TABLES` gives each table's Arrow schema and key column. JSON-typed
fields (`metadata`, `details`) are stored as JSON text: their shape differs per
source and per labeler, and Parquet struct columns would force one shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

import orjson
import pyarrow as pa

from prefsmith.schemas import ids

Role = Literal["system", "user", "assistant"]
LabelKind = Literal["score", "pairwise", "ranking", "critique"]
LABEL_KINDS: tuple[str, ...] = ("score", "pairwise", "ranking", "critique")

MESSAGE_TYPE = pa.struct([("role", pa.string()), ("content", pa.string())])
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


def now() -> datetime:
    return datetime.now(timezone.utc)


def dump_json(value: Any) -> str | None:
    """JSON text for a metadata/details column; None stays None."""
    if value is None:
        return None
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def load_json(text: str | None) -> Any:
    return None if text is None else orjson.loads(text)


@dataclass(slots=True)
class SourceRow:
    """One input row: its 1-based line, the decoded record, or why it couldn't be decoded."""

    line: int
    record: dict[str, Any] | None
    reason: str | None = None
    raw: str | bytes = ""  # bytes: the undecoded line, decoded only if the row is rejected


@dataclass(slots=True)
class Prompt:
    """A conversation up to the point where the assistant must answer.

    `followups` are user turns to ask after the assistant's answer (MT-Bench
    turn 2): generation answers them in order and keeps every answer.
    """

    messages: list[dict[str, str]]
    source: str
    followups: list[str] = field(default_factory=list)
    reference: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    prompt_id: str = ""

    def __post_init__(self) -> None:
        if not self.prompt_id:
            self.prompt_id = ids.prompt_id(self.messages, self.followups)

    def to_row(self, created_at: datetime) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "messages": self.messages,
            "followups": self.followups,
            "source": self.source,
            "reference": self.reference,
            "metadata": dump_json(self.metadata),
            "created_at": created_at,
        }


@dataclass(slots=True)
class Candidate:
    """One assistant response to a prompt (and, for multi-turn prompts, later turns)."""

    prompt_id: str
    content: str
    origin: str
    extra_turns: list[dict[str, str]] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    candidate_id: str = ""

    def __post_init__(self) -> None:
        if not self.candidate_id:
            self.candidate_id = ids.candidate_id(self.prompt_id, self.content, self.extra_turns)

    def to_row(self, created_at: datetime) -> dict[str, Any]:
        return {
            "candidate_id": self.candidate_id,
            "prompt_id": self.prompt_id,
            "content": self.content,
            "extra_turns": self.extra_turns,
            "origin": self.origin,
            "metadata": dump_json(self.metadata),
            "created_at": created_at,
        }


@dataclass(slots=True)
class Label:
    """One judgment by one labeler.

    `scores` is aligned with `candidate_ids`, higher is better, whatever the kind:
    a score label has one candidate and its score; a pairwise label has two
    candidates in the order judged and scores 1/0 (0.5/0.5 for a tie); a ranking
    has its candidates best first. A failed judgment has `error` set and no scores.
    """

    labeler: str
    fingerprint: str
    kind: str
    prompt_id: str
    candidate_ids: list[str]
    scores: list[float] | None
    details: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    label_id: str = ""

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(f"label kind {self.kind!r} is not one of {LABEL_KINDS}")
        if not self.label_id:
            self.label_id = ids.label_id(self.candidate_ids, self.labeler, self.fingerprint)

    def to_row(self, created_at: datetime) -> dict[str, Any]:
        return {
            "label_id": self.label_id,
            "labeler": self.labeler,
            "fingerprint": self.fingerprint,
            "kind": self.kind,
            "prompt_id": self.prompt_id,
            "candidate_ids": self.candidate_ids,
            "scores": self.scores,
            "details": dump_json(self.details),
            "error": self.error,
            "created_at": created_at,
        }


@dataclass(slots=True)
class Reject:
    """An input row that could not be used, with the reason and the raw row."""

    source: str
    line: int
    reason: str
    raw: str
    reject_id: str = ""

    def __post_init__(self) -> None:
        if not self.reject_id:
            self.reject_id = ids.reject_id(self.source, self.line)

    @classmethod
    def of_row(cls, row: SourceRow, source: str, reason: str) -> Reject:
        """The reject of an input row, keeping its raw text (JSON of the record if none)."""
        raw = row.raw or orjson.dumps(row.record, default=str)
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", "backslashreplace")
        return cls(source=source, line=row.line, reason=reason, raw=raw)

    def to_row(self, created_at: datetime) -> dict[str, Any]:
        return {
            "reject_id": self.reject_id,
            "source": self.source,
            "line": self.line,
            "reason": self.reason,
            "raw": self.raw,
            "created_at": created_at,
        }


@dataclass(slots=True)
class PreferencePair:
    """One row of a preference dataset: the whole prompt, a chosen and a rejected answer.

    Never built from a tie and never with chosen == rejected (the builders guarantee
    it); `margin` is the score difference that decided the pair, when scores exist.
    """

    prompt_id: str
    prompt: list[dict[str, str]]
    chosen_id: str
    chosen: str
    rejected_id: str
    rejected: str
    margin: float | None = None
    labelers: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.chosen_id == self.rejected_id:
            raise ValueError(f"chosen and rejected are the same candidate ({self.chosen_id})")

    def to_row(self, created_at: datetime) -> dict[str, Any]:
        return {
            "prompt_id": self.prompt_id,
            "prompt": self.prompt,
            "chosen_id": self.chosen_id,
            "chosen": self.chosen,
            "rejected_id": self.rejected_id,
            "rejected": self.rejected,
            "margin": self.margin,
            "labelers": self.labelers,
        }


PREFERENCE_SCHEMA = pa.schema(
    [
        ("prompt_id", pa.string()),
        ("prompt", pa.list_(MESSAGE_TYPE)),
        ("chosen_id", pa.string()),
        ("chosen", pa.string()),
        ("rejected_id", pa.string()),
        ("rejected", pa.string()),
        ("margin", pa.float64()),
        ("labelers", pa.list_(pa.string())),
    ]
)


@dataclass(frozen=True, slots=True)
class TableSpec:
    name: str
    key: str
    schema: pa.Schema


TABLES: dict[str, TableSpec] = {
    spec.name: spec
    for spec in (
        TableSpec(
            "prompts",
            "prompt_id",
            pa.schema(
                [
                    ("prompt_id", pa.string()),
                    ("messages", pa.list_(MESSAGE_TYPE)),
                    ("followups", pa.list_(pa.string())),
                    ("source", pa.string()),
                    ("reference", pa.string()),
                    ("metadata", pa.string()),
                    ("created_at", TIMESTAMP_TYPE),
                ]
            ),
        ),
        TableSpec(
            "candidates",
            "candidate_id",
            pa.schema(
                [
                    ("candidate_id", pa.string()),
                    ("prompt_id", pa.string()),
                    ("content", pa.string()),
                    ("extra_turns", pa.list_(MESSAGE_TYPE)),
                    ("origin", pa.string()),
                    ("metadata", pa.string()),
                    ("created_at", TIMESTAMP_TYPE),
                ]
            ),
        ),
        TableSpec(
            "labels",
            "label_id",
            pa.schema(
                [
                    ("label_id", pa.string()),
                    ("labeler", pa.string()),
                    ("fingerprint", pa.string()),
                    ("kind", pa.string()),
                    ("prompt_id", pa.string()),
                    ("candidate_ids", pa.list_(pa.string())),
                    ("scores", pa.list_(pa.float64())),
                    ("details", pa.string()),
                    ("error", pa.string()),
                    ("created_at", TIMESTAMP_TYPE),
                ]
            ),
        ),
        TableSpec(
            "rejects",
            "reject_id",
            pa.schema(
                [
                    ("reject_id", pa.string()),
                    ("source", pa.string()),
                    ("line", pa.int64()),
                    ("reason", pa.string()),
                    ("raw", pa.string()),
                    ("created_at", TIMESTAMP_TYPE),
                ]
            ),
        ),
    )
}


def to_table(name: str, records: list[Any], created_at: datetime | None = None) -> pa.Table:
    """Arrow table of records (Prompt, Candidate, Label, Reject) for table `name`."""
    stamp = created_at or now()
    return pa.Table.from_pylist([r.to_row(stamp) for r in records], schema=TABLES[name].schema)


def render_dialogue(messages: Sequence[Mapping[str, str]]) -> str:
    """hh-style text of a conversation: `Human: …`, turns separated by a blank line."""
    speakers = {"user": "Human", "assistant": "Assistant", "system": "System"}
    return "\n\n".join(f"{speakers[m['role']]}: {m['content']}" for m in messages)
