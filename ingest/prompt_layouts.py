"""Prompt-set rows (plain prompts, chat messages, MT-Bench questions) -> Prompt records."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from prefsmith.schemas.records import Prompt

PROMPT_FORMATS = ("auto", "jsonl", "parquet", "csv", "mt-bench", "messages")
PROMPT_FIELD_GUESSES = ("prompt", "instruction", "question", "input", "query", "text")
ID_FIELD_GUESSES = ("question_id", "prompt_id", "id")
ROLES = ("system", "user", "assistant")

REJECT_REASONS: dict[str, str] = {
    "invalid_json": "the line is not a JSON object",
    "undecodable_bytes": "the line is not valid UTF-8",
    "missing_prompt": "the prompt field is missing, empty or not text",
    "invalid_messages": "messages are not a list of {role, content} with known roles",
    "last_turn_not_user": "the conversation does not end with a user turn",
    "duplicate_id": "another row of this source has the same id and different content",
}


class PromptRowError(ValueError):
    """A row that can't be used; `reason` is a key of REJECT_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def guess_field(columns: Iterable[str], guesses: tuple[str, ...]) -> str | None:
    present = set(columns)
    return next((name for name in guesses if name in present), None)


def detect_row_format(columns: Iterable[str]) -> str:
    """'mt-bench', 'messages' or 'prompt' from the columns of the first row."""
    present = set(columns)
    if "turns" in present:
        return "mt-bench"
    if "messages" in present:
        return "messages"
    return "prompt"


def _metadata(record: Mapping[str, Any], consumed: set[str], id_field: str | None) -> dict:
    meta = {k: v for k, v in record.items() if k not in consumed and v is not None}
    if id_field and record.get(id_field) is not None:
        meta["source_id"] = record[id_field]
    return meta


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise PromptRowError("missing_prompt")
    return value


def from_text_row(
    record: Mapping[str, Any], prompt_field: str, source: str, id_field: str | None = None
) -> Prompt:
    messages = [{"role": "user", "content": _text(record.get(prompt_field))}]
    consumed = {prompt_field, id_field or ""}
    return Prompt(messages=messages, source=source, metadata=_metadata(record, consumed, id_field))


def from_mt_bench_row(record: Mapping[str, Any], source: str, id_field: str | None) -> Prompt:
    """MT-Bench / Vicuna-bench: the first turn is the prompt, the rest are follow-ups."""
    turns = record.get("turns")
    if not isinstance(turns, list) or not turns:
        raise PromptRowError("missing_prompt")
    texts = [_text(t) for t in turns]
    return Prompt(
        messages=[{"role": "user", "content": texts[0]}],
        followups=texts[1:],
        source=source,
        metadata=_metadata(record, {"turns", id_field or ""}, id_field),
    )


def from_messages_row(
    record: Mapping[str, Any], messages_field: str, source: str, id_field: str | None
) -> Prompt:
    raw = record.get(messages_field)
    if not isinstance(raw, list) or not raw:
        raise PromptRowError("invalid_messages")
    messages = []
    for message in raw:
        if not isinstance(message, Mapping):
            raise PromptRowError("invalid_messages")
        role, content = message.get("role"), message.get("content")
        if role not in ROLES or not isinstance(content, str):
            raise PromptRowError("invalid_messages")
        messages.append({"role": role, "content": content})
    if messages[-1]["role"] != "user":
        raise PromptRowError("last_turn_not_user")
    if not messages[-1]["content"].strip():
        raise PromptRowError("missing_prompt")
    consumed = {messages_field, id_field or ""}
    return Prompt(messages=messages, source=source, metadata=_metadata(record, consumed, id_field))


def reference_of(record: Mapping[str, Any]) -> tuple[Any, list[str]] | None:
    """(question id, reference turns) from an MT-Bench answer row or {id, reference} row."""
    key = next((record[k] for k in ID_FIELD_GUESSES if record.get(k) is not None), None)
    if key is None:
        return None
    choices = record.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], Mapping):
        turns = choices[0].get("turns")
        if isinstance(turns, list) and all(isinstance(t, str) for t in turns):
            return key, turns
    for name in ("reference", "answer", "response"):
        if isinstance(record.get(name), str):
            return key, [record[name]]
    return None


def attach_reference(prompt: Prompt, turns: list[str]) -> None:
    """The first turn's reference answer; all turns kept for multi-turn judging."""
    prompt.reference = turns[0]
    if len(turns) > 1:
        prompt.metadata["reference_turns"] = turns
