"""Stable content-hash ids.

An id is the XXH3-128 hex digest of a length-prefixed key, `role:len:content`
per turn, so no two different contents share a key and the same key can be
built in plain Python or in a polars expression (the bulk ingest path does).
Contents are stripped of surrounding whitespace first: a copy of a prompt that
differs only there is the same prompt. XXH3 rather than a cryptographic hash:
ids are for dedupe, not security, and hashing is a large per-row cost of a
million-row ingest (datatrove and datasets fingerprint with XXH3 too).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import xxhash


def hash_key(key: str | bytes) -> str:
    if isinstance(key, str):
        key = key.encode("utf-8", "surrogatepass")
    return xxhash.xxh3_128_hexdigest(key)


def turns_key(turns: Iterable[tuple[str, str]]) -> str:
    """`role:len:content` for each (role, content), contents stripped, concatenated."""
    parts = []
    for role, content in turns:
        text = content.strip()
        parts.append(f"{role}:{len(text)}:{text}")
    return "".join(parts)


def content_hash(value: Any) -> str:
    """Id of any JSON-serialisable value (dict keys sorted): fingerprints, configs."""
    return hash_key(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


def prompt_id(messages: Sequence[dict[str, str]], followups: Sequence[str] = ()) -> str:
    """Id of a conversation up to the assistant's turn.

    Planned follow-up user turns (MT-Bench turn 2) are part of the identity when
    present: two benchmark questions that share a first turn are still two prompts.
    """
    return prompt_id_of_turns([(m["role"], m["content"]) for m in messages], followups)


def prompt_id_of_turns(turns: Sequence[tuple[str, str]], followups: Sequence[str] = ()) -> str:
    """`prompt_id` of (role, content) pairs: the same id, without building message dicts."""
    key = turns_key(turns)
    if followups:
        key += "|" + turns_key(("followup", text) for text in followups)
    return hash_key(key)


def candidate_key(prompt: str, content: str) -> str:
    text = content.strip()
    return f"{prompt}{len(text)}:{text}"


def candidate_id(prompt: str, content: str, extra_turns: Sequence[dict[str, str]] = ()) -> str:
    """Id of one assistant response (plus any later turns) to a prompt."""
    key = candidate_key(prompt, content)
    if extra_turns:
        key += "|" + turns_key((m["role"], m["content"]) for m in extra_turns)
    return hash_key(key)


def label_key(item_ids: Sequence[str], labeler: str, fingerprint: str) -> str:
    return "|".join(item_ids) + f"#{len(labeler)}:{labeler}#" + fingerprint


def label_id(item_ids: Sequence[str], labeler: str, fingerprint: str) -> str:
    """Id of one judgment: the items judged, in order, and who judged them, with what."""
    return hash_key(label_key(item_ids, labeler, fingerprint))


def reject_id(source: str, line: int) -> str:
    return hash_key(f"{len(source)}:{source}#{line}")


def fingerprint(**parts: Any) -> str:
    """Hash of everything that changes a labeler's output (model, template, params)."""
    return content_hash(parts)
