"""The fine-tuning extension points, one dict each: trainers (`prefsmith train NAME`, a run
config's `train:` entries) and evaluations (`prefsmith eval KIND`, `evaluate:` entries).

Adding a trainer is its file (a function with the launcher's signature, below), its test,
and one line here; its CLI flags are generated from its options model.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.evaluations import DpoEvaluationOptions, RewardMatchingOptions
from prefsmith.schemas.trainers import PolicyTrainOptions, RewardModelTrainOptions


def _imported(target: str) -> Callable[..., dict[str, Any]]:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


@dataclass(frozen=True)
class Trainer:
    """A trainer: `target` is `module:function` (imported when it runs: torch, trl), called
    as `function(name, store, dataset, output, options, settings=..., resume=...)`; its
    options model; the dataset kinds and row formats it reads."""

    target: str
    options: type[BaseModel]
    kinds: tuple[str, ...]
    formats: tuple[str, ...]
    summary: str

    def function(self) -> Callable[..., dict[str, Any]]:
        return _imported(self.target)


@dataclass(frozen=True)
class Evaluation:
    """An evaluation: `target` is `module:function`, called as `function(store, dataset,
    output=..., **options)`; its options model; the dataset kinds it takes prompts from."""

    target: str
    options: type[BaseModel]
    kinds: tuple[str, ...]

    def function(self) -> Callable[..., dict[str, Any]]:
        return _imported(self.target)


TRAINERS: dict[str, Trainer] = {
    "rm": Trainer(
        "prefsmith.finetune.reward_model:train_reward_model",
        RewardModelTrainOptions,
        kinds=("preference", "rm-pairs"),
        formats=("conversational", "standard", "rm-pairs"),
        summary="A reward model with trl's RewardTrainer; reports pair accuracy on the test split.",
    ),
    "dpo": Trainer(
        "prefsmith.finetune.policy:train_policy",
        PolicyTrainOptions,
        kinds=("preference",),
        formats=("conversational", "standard"),
        summary="DPO with trl's DPOTrainer (beta, loss_type, ... via --set).",
    ),
    "kto": Trainer(
        "prefsmith.finetune.policy:train_policy",
        PolicyTrainOptions,
        kinds=("preference",),
        formats=("kto",),
        summary="KTO with trl's KTOTrainer on unpaired rows (build preference --format kto).",
    ),
    "sft": Trainer(
        "prefsmith.finetune.policy:train_policy",
        PolicyTrainOptions,
        kinds=("reward-in-prompt",),
        formats=("prompt-completion",),
        summary="Reward-conditioned SFT on a reward-in-prompt dataset, completion loss.",
    ),
}

EVALUATIONS: dict[str, Evaluation] = {
    "reward-matching": Evaluation(
        "prefsmith.finetune.evaluate:reward_matching",
        RewardMatchingOptions,
        kinds=("reward-in-prompt",),
    ),
    "dpo": Evaluation(
        "prefsmith.finetune.evaluate:dpo_evaluation", DpoEvaluationOptions, kinds=("preference",)
    ),
}


def trainer_of(name: str) -> Trainer:
    if name not in TRAINERS:
        raise UserError(f"unknown trainer {name!r}; trainers: {', '.join(TRAINERS)}")
    return TRAINERS[name]


def trainer_options(name: str, options: dict[str, Any]) -> BaseModel:
    """The trainer's options, validated by its model (UserError naming a bad key)."""
    model = trainer_of(name).options
    unknown = [key for key in options if key not in model.model_fields]
    if unknown:
        raise UserError(
            f"train {name}: unknown key {unknown[0]!r}; {name}'s options: "
            + ", ".join(model.model_fields)
        )
    return validate(model, options, where=f"train {name}: ")
