"""Trainer name -> what it runs and which built datasets it takes: one dict, read by the
CLI (`prefsmith train NAME`), the train flow, run configs and the builder x trainer test."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Trainer:
    """A trainer: `target` is `module:function` (imported when it runs: torch, trl), and
    the dataset kinds and row formats it reads."""

    target: str
    kinds: tuple[str, ...]
    formats: tuple[str, ...]
    summary: str

    def function(self) -> Callable[..., dict[str, Any]]:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


TRAINERS: dict[str, Trainer] = {
    "rm": Trainer(
        "prefsmith.finetune.reward_model:train_reward_model",
        kinds=("preference", "rm-pairs"),
        formats=("conversational", "standard", "rm-pairs"),
        summary="A reward model with trl's RewardTrainer; reports pair accuracy on the test split.",
    ),
    "dpo": Trainer(
        "prefsmith.finetune.policy:train_dpo",
        kinds=("preference",),
        formats=("conversational", "standard"),
        summary="DPO with trl's DPOTrainer (beta, loss_type, max_length... via --set).",
    ),
    "kto": Trainer(
        "prefsmith.finetune.policy:train_kto",
        kinds=("preference",),
        formats=("kto",),
        summary="KTO with trl's KTOTrainer on unpaired rows (build preference --format kto).",
    ),
    "sft": Trainer(
        "prefsmith.finetune.policy:train_sft",
        kinds=("reward-in-prompt",),
        formats=("prompt-completion",),
        summary="Reward-conditioned SFT on a reward-in-prompt dataset, completion loss.",
    ),
}
