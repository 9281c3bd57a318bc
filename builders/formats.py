"""Dataset rows in the formats trainers take: trl preference (conversational or standard),
trl prompt-completion, reward-model pairs, and OpenAI fine-tuning JSONL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefsmith.schemas.records import render_dialogue

PREFERENCE_FORMATS = ("conversational", "standard", "openai")
SFT_FORMATS = ("prompt-completion", "openai")


def _assistant(text: str, extra_turns: Sequence[Mapping[str, str]] = ()) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}, *[dict(m) for m in extra_turns]]


def preference_row(pair: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """One preference pair (`prompt` messages, `chosen`, `rejected`, ids, `margin`)."""
    ids = {k: pair[k] for k in ("prompt_id", "chosen_id", "rejected_id", "margin")}
    if fmt == "conversational":  # trl: prompt and answers as message lists
        return {
            "prompt": [dict(m) for m in pair["prompt"]],
            "chosen": _assistant(pair["chosen"]),
            "rejected": _assistant(pair["rejected"]),
            **ids,
        }
    if fmt == "standard":  # trl: plain text, explicit prompt ending where the answer starts
        prompt = render_dialogue(pair["prompt"]) + "\n\nAssistant:"
        return {
            "prompt": prompt,
            "chosen": " " + pair["chosen"],
            "rejected": " " + pair["rejected"],
            **ids,
        }
    if fmt == "openai":  # OpenAI preference fine-tuning (DPO) JSONL
        return {
            "input": {"messages": [dict(m) for m in pair["prompt"]]},
            "preferred_output": _assistant(pair["chosen"]),
            "non_preferred_output": _assistant(pair["rejected"]),
        }
    raise ValueError(f"unknown preference format {fmt!r}")


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


def sft_row(prompt: str, completion: str, fmt: str, ids: Mapping[str, Any]) -> dict[str, Any]:
    """A conditioned prompt and its completion: trl prompt-completion, or OpenAI chat SFT."""
    if fmt == "prompt-completion":
        return {"prompt": prompt, "completion": completion, **ids}
    if fmt == "openai":
        return {
            "messages": [
                {"role": "user", "content": prompt},
                {"role": "assistant", "content": completion},
            ]
        }
    raise ValueError(f"unknown SFT format {fmt!r}")
