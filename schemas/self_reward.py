"""The self-rewarding loop's settings and its pure steps (Yuan et al. 2024, arXiv 2401.10020).

Each iteration: the policy answers `n` times per prompt, grades its own answers with
the additive 5-point rubric (LLM-as-a-judge), the best and the worst answer of each
prompt become a DPO pair, and DPO trains the next policy from the current one.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import Field

from prefsmith.schemas.config import StrictModel

# DPO on CPU in minutes: one pass over the iteration's pairs, short sequences, no eval,
# no checkpoints (an unfinished iteration is trained again). `settings` override these.
DPO_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 1,
    "learning_rate": 5e-6,
    "beta": 0.1,
    "max_length": 384,
    "logging_steps": 1,
    "save_strategy": "no",
}
# What a finished iteration's results depend on: a rerun with other values is refused
# instead of silently mixing two experiments in one output folder.
RESULT_FIELDS = (
    "prompts", "rotate_prompts", "seed", "n", "temperature", "top_p", "max_tokens", "policy",
    "judge_mode", "judge_template", "judge_max_tokens", "min_margin", "settings", "lora_r",
)  # fmt: skip


class SelfRewardConfig(StrictModel):
    """`self_reward:` of a run config; the `self-reward` flow's parameters."""

    iterations: int = Field(default=2, ge=1, description="Iterations of the loop.")
    prompts: int = Field(default=6, ge=1, description="Prompts of the store per iteration.")
    rotate_prompts: bool = Field(
        default=True, description="Each iteration its own prompts (off: the same ones)."
    )
    seed: int = Field(default=0, description="Seed of the choice of prompts and of sampling.")
    n: int = Field(default=4, ge=2, description="Candidates per prompt.")
    temperature: float = Field(default=0.8, gt=0, le=2, description="Sampling temperature.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="Nucleus sampling mass.")
    max_tokens: int = Field(default=64, ge=1, description="Tokens per answer.")
    policy: str | None = Field(
        default=None, description="Checkpoint folder or GGUF file (default: bundled SmolLM2)."
    )
    judge_mode: Literal["single-logprob", "single"] = Field(
        default="single-logprob", description="How the policy grades its answers."
    )
    judge_template: str | None = Field(
        default=None, description="Judge prompt template (default: templates/judge/MODE.txt)."
    )
    judge_max_tokens: int = Field(
        default=256, ge=1, description="Tokens of a written judgment (`single` only)."
    )
    min_margin: float = Field(
        default=0.0, ge=0, description="Best minus worst score must exceed it to make a pair."
    )
    settings: dict[str, Any] = Field(default_factory=dict, description="trl DPOConfig overrides.")
    lora_r: int | None = Field(default=None, ge=1, description="Train a LoRA adapter of this rank.")
    output: str | None = Field(
        default=None, description="Sub-stores, models and records (default: STORE/self-reward)."
    )
    batch_size: int = Field(default=16, ge=1, description="Sequences decoded (or judged) at once.")
    device: Literal["auto", "cpu", "cuda"] = Field(default="auto", description="Where it runs.")

    def dpo_settings(self) -> dict[str, Any]:
        return {**DPO_DEFAULTS, **self.settings}

    def results_key(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in RESULT_FIELDS}


def prompt_order(prompt_ids: Sequence[str], seed: int) -> list[str]:
    """The store's prompts in a seeded pseudo-random order that doesn't depend on storage."""
    key = {p: hashlib.blake2b(f"{seed}:{p}".encode(), digest_size=8).digest() for p in prompt_ids}
    return sorted(set(prompt_ids), key=key.__getitem__)


def iteration_prompts(
    prompt_ids: Sequence[str], count: int, iteration: int, seed: int, rotate: bool
) -> list[str]:
    """`count` prompts for iteration k (1-based): the k-th block of the seeded order when
    rotating (cycling through the store when it runs out), else always the first block."""
    order = prompt_order(prompt_ids, seed)
    if not order:
        return []
    start = (iteration - 1) * count if rotate else 0
    chosen = [order[(start + i) % len(order)] for i in range(min(count, len(order)))]
    return list(dict.fromkeys(chosen))


def score_histogram(scores: Sequence[float]) -> dict[str, int]:
    """Counts of the scores rounded to 1..5 (half up), every bucket present."""
    counts = dict.fromkeys("12345", 0)
    for score in scores:
        if score is not None and not math.isnan(score):
            counts[str(min(5, max(1, math.floor(score + 0.5))))] += 1
    return counts


def settings_changes(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """`key: old -> new` for every result-relevant setting that differs."""
    return [
        f"{key}: {stored.get(key)!r} -> {current.get(key)!r}"
        for key in current
        if stored.get(key) != current.get(key)
    ]
