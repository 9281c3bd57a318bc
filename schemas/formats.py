"""Row formats: one table that the build settings, the dataset writer, the dataset card and
the trainers read. Adding a format is a line here, its row function in builders/formats.py,
and a test; the `--format` choices, the card's note and the columns a trainer reads follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class RowFormat:
    """`builds`: the build commands that write it; `columns`: what a trainer reads (none for
    a format no local trainer takes); `jsonl`: written as JSONL (OpenAI's upload), not
    Parquet; `kind`: the dataset's kind when it differs from its build's; `note`: the card."""

    builds: tuple[str, ...]
    columns: tuple[str, ...]
    note: str
    jsonl: bool = False
    kind: str | None = None


ROW_FORMATS: dict[str, RowFormat] = {
    "conversational": RowFormat(
        ("preference",),
        ("prompt", "chosen", "rejected"),
        "trl's conversational preference format: `prompt` is the whole conversation as "
        "messages, `chosen`/`rejected` the assistant's answer as messages (DPOTrainer takes it "
        "as is).",
    ),
    "standard": RowFormat(
        ("preference",),
        ("prompt", "chosen", "rejected"),
        "trl's standard preference format: plain-text `prompt`, `chosen`, `rejected`.",
    ),
    "rm-pairs": RowFormat(
        ("preference", "rm-pairs"),
        ("chosen", "rejected"),
        "trl's implicit-prompt pairs for RewardTrainer: `chosen`/`rejected` are whole "
        "dialogues, `margin` the score difference or the ingested strength that decided the pair (0 when there was none).",
        kind="rm-pairs",
    ),
    "kto": RowFormat(
        ("preference",),
        ("prompt", "completion", "label"),
        "trl's unpaired preference (KTO) format: `prompt` messages, `completion` (the answer as "
        "an assistant message) and `label` (true: desirable), one row per candidate.",
    ),
    "prompt-completion": RowFormat(
        ("reward-in-prompt",),
        ("prompt", "completion"),
        "trl's prompt-completion format for SFT (loss on the completion only).",
    ),
    "openai": RowFormat(
        ("preference", "reward-in-prompt"), (), "OpenAI fine-tuning JSONL.", jsonl=True
    ),
    "token-rewards": RowFormat(
        ("token-rewards",),
        ("prompt", "completion", "token_ids", "token_rewards"),
        "`prompt` (messages), `completion` (the response text), `token_ids` (the response "
        "tokenized alone, no special tokens) and `token_rewards` (one float per token id, same "
        "length), plus `spans` (the critic's located spans, character offsets) and "
        "`scalar_reward` (added to the last token's reward when `scalar_from` is set). For "
        "trainers that take per-token rewards (PPO-style dense rewards).",
    ),
}


def formats_of(build: str) -> Any:
    """The `Literal` of the formats a build command writes (its `--format` choices)."""
    return Literal[tuple(name for name, f in ROW_FORMATS.items() if build in f.builds)]
