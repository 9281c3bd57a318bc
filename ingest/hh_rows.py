"""Anthropic hh-rlhf dialogues -> prompt messages + chosen/rejected final turns.

A row is `{"chosen": DIALOGUE, "rejected": DIALOGUE}` where each dialogue is
`\\n\\nHuman: ...\\n\\nAssistant: ...` turns. The two dialogues should share
every turn but the last assistant turn; the parser checks that instead of
trusting it, because the full dataset has rows where they don't.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

HUMAN_MARKER = "\n\nHuman:"
ASSISTANT_MARKER = "\n\nAssistant:"
_TURN_RE = re.compile(r"\n\n(Human|Assistant):")
_ROLES = {"Human": "user", "Assistant": "assistant"}

HUB_ID = "Anthropic/hh-rlhf"
LABELER = "human:hh-rlhf"
ORIGIN_CHOSEN, ORIGIN_REJECTED = "hh-rlhf:chosen", "hh-rlhf:rejected"

# Every reason a row can be rejected for, with what it means (shown in docs and --help).
REJECT_REASONS: dict[str, str] = {
    "invalid_json": "the line is not a JSON object",
    "undecodable_bytes": "the line is not valid UTF-8",
    "missing_keys": "'chosen' or 'rejected' is missing or not a string",
    "malformed_dialogue": "text before the first Human:/Assistant: marker, or no prompt turn",
    "no_final_assistant_turn": "a dialogue does not end with an Assistant turn",
    "prompt_mismatch": "chosen and rejected dialogues differ before the final answer",
    "empty_answer": "a final answer is empty (keep with --allow-empty)",
    "identical_answers": "chosen and rejected final answers are the same",
}


class HHRowError(ValueError):
    """A row that can't be used; `reason` is a key of REJECT_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class HHPair:
    turns: list[tuple[str, str]]  # (role, content) of the prompt, oldest first
    chosen: str
    rejected: str

    @property
    def messages(self) -> list[dict[str, str]]:
        return [{"role": role, "content": content} for role, content in self.turns]


def split_turns(text: str) -> list[tuple[str, str]]:
    """(role, content) turns of a dialogue, contents stripped; HHRowError if malformed."""
    parts = _TURN_RE.split(text)
    if parts[0].strip():
        raise HHRowError("malformed_dialogue")
    return [(_ROLES[parts[i]], parts[i + 1].strip()) for i in range(1, len(parts), 2)]


def split_dialogue(text: str) -> list[dict[str, str]]:
    """Chat messages of a dialogue, contents stripped; raises HHRowError if malformed."""
    return [{"role": role, "content": content} for role, content in split_turns(text)]


def _split_final_answer(text: str) -> tuple[str, str]:
    """(prefix before the final assistant turn, final answer text)."""
    cut = text.rfind(ASSISTANT_MARKER)
    if cut < 0 or text.find(HUMAN_MARKER, cut) >= 0:
        raise HHRowError("no_final_assistant_turn")
    return text[:cut], text[cut + len(ASSISTANT_MARKER) :].strip()


def parse_pair(record: Any, allow_empty: bool = False) -> HHPair:
    """Parse one hh-rlhf row; raises HHRowError with the reason it can't be used."""
    if not isinstance(record, dict):
        raise HHRowError("invalid_json")
    chosen_text, rejected_text = record.get("chosen"), record.get("rejected")
    if not isinstance(chosen_text, str) or not isinstance(rejected_text, str):
        raise HHRowError("missing_keys")
    chosen_prefix, chosen = _split_final_answer(chosen_text)
    shared = len(chosen_prefix) + len(ASSISTANT_MARKER)
    tail = rejected_text[shared:]
    if (
        rejected_text.startswith(chosen_prefix)
        and rejected_text.startswith(ASSISTANT_MARKER, len(chosen_prefix))
        and ASSISTANT_MARKER not in tail
        and HUMAN_MARKER not in tail
    ):  # the common case, without a second search from the end
        rejected_prefix, rejected = chosen_prefix, tail.strip()
    else:
        rejected_prefix, rejected = _split_final_answer(rejected_text)
    turns = split_turns(chosen_prefix)
    if not turns or turns[-1][0] != "user":
        raise HHRowError("malformed_dialogue")
    # Fast path: identical raw prefixes. Otherwise compare the parsed turns, so a
    # whitespace-only difference is not a mismatch but a changed word is.
    if chosen_prefix != rejected_prefix and split_turns(rejected_prefix) != turns:
        raise HHRowError("prompt_mismatch")
    if not allow_empty and (not chosen or not rejected):
        raise HHRowError("empty_answer")
    if chosen == rejected:
        raise HHRowError("identical_answers")
    return HHPair(turns=turns, chosen=chosen, rejected=rejected)
