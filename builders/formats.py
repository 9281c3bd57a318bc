"""Dataset rows in the formats trainers take: trl preference (conversational or standard),
trl prompt-completion, reward-model pairs, and OpenAI fine-tuning JSONL."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from prefsmith.schemas.records import render_dialogue


def _assistant(text: str, extra_turns: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}, *[dict(m) for m in extra_turns]]


def _ids(pair: Mapping[str, Any]) -> dict[str, Any]:
    return {k: pair[k] for k in ("prompt_id", "chosen_id", "rejected_id", "margin")}


def conversational_row(pair: Mapping[str, Any]) -> dict[str, Any]:
    """trl's conversational layout: prompt and answers as message lists."""
    return {
        "prompt": [dict(m) for m in pair["prompt"]],
        "chosen": _assistant(pair["chosen"]),
        "rejected": _assistant(pair["rejected"]),
        **_ids(pair),
    }


def standard_row(pair: Mapping[str, Any]) -> dict[str, Any]:
    """trl's standard layout: plain text, the prompt ending where the answer starts."""
    return {
        "prompt": render_dialogue(pair["prompt"]) + "\n\nAssistant:",
        "chosen": " " + pair["chosen"],
        "rejected": " " + pair["rejected"],
        **_ids(pair),
    }


def openai_preference_row(pair: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI preference fine-tuning (DPO) JSONL."""
    return {
        "input": {"messages": [dict(m) for m in pair["prompt"]]},
        "preferred_output": _assistant(pair["chosen"]),
        "non_preferred_output": _assistant(pair["rejected"]),
    }


def kto_rows(
    pairs: list[Mapping[str, Any]],
    scores: Mapping[str, float] | None = None,
    threshold: float | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """trl's unpaired (KTO) rows, one per candidate of the pairs: `prompt` messages,
    `completion` (the answer as an assistant message), `label`. Desirable: chosen more often
    than rejected in the pairs, or, with a `threshold`, a score at or above it (`scores` by
    candidate). A candidate chosen as often as rejected, or without a score, is left out
    (returned as a count)."""
    votes: dict[str, int] = {}
    first: dict[str, tuple[Mapping[str, Any], str]] = {}
    for pair in pairs:
        for side, vote in (("chosen", 1), ("rejected", -1)):
            candidate_id = pair[f"{side}_id"]
            votes[candidate_id] = votes.get(candidate_id, 0) + vote
            first.setdefault(candidate_id, (pair, pair[side]))
    if threshold is not None:
        known = scores or {}
        votes = {c: (1 if known[c] >= threshold else -1) if c in known else 0 for c in votes}
    rows, undecided = [], 0
    for candidate_id, vote in votes.items():
        if vote == 0:
            undecided += 1
            continue
        pair, answer = first[candidate_id]
        rows.append(
            {
                "prompt": [dict(m) for m in pair["prompt"]],
                "completion": _assistant(answer),
                "label": vote > 0,
                "prompt_id": pair["prompt_id"],
                "candidate_id": candidate_id,
            }
        )
    return rows, undecided


def rm_pair_row(pair: Mapping[str, Any]) -> dict[str, Any]:
    """Reward-model pair in hh-rlhf's own text (`\n\nHuman: …\n\nAssistant: …`, trl's
    implicit-prompt format), with the deciding margin: what `train rm` and the
    `reward_model` labeler's `hh` input read."""
    prompt = "\n\n" + render_dialogue(pair["prompt"]) + "\n\nAssistant: "
    return {
        "chosen": prompt + pair["chosen"],
        "rejected": prompt + pair["rejected"],
        "margin": pair["margin"] if pair["margin"] is not None else 0.0,
        "prompt_id": pair["prompt_id"],
    }


def prompt_completion_row(prompt: str, completion: str, ids: Mapping[str, Any]) -> dict[str, Any]:
    """trl's prompt-completion layout (SFT, loss on the completion)."""
    return {"prompt": prompt, "completion": completion, **ids}


def openai_chat_row(prompt: str, completion: str, ids: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI chat SFT JSONL: the conditioned prompt as the user turn."""
    return {
        "messages": [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": completion},
        ]
    }


# The row function of each format (schemas/formats.py) a pair or a completion becomes; kto
# rows are made from all pairs at once (`kto_rows`), token rewards by builders/token_rewards.py.
PAIR_ROWS: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "conversational": conversational_row,
    "standard": standard_row,
    "openai": openai_preference_row,
    "rm-pairs": rm_pair_row,
}
COMPLETION_ROWS: dict[str, Callable[[str, str, Mapping[str, Any]], dict[str, Any]]] = {
    "prompt-completion": prompt_completion_row,
    "openai": openai_chat_row,
}
