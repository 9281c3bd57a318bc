"""The fine-tuning extension points, one dict each: trainers (`prefsmith train NAME`, a run
config's `train:` entries) and evaluations (`prefsmith eval KIND`, `evaluate:` entries). The
trainers' modules import torch and trl only when they run.

Adding a trainer is its file (a `Trainer` subclass whose `train` has the launcher's
signature, finetune/specs.py), its test, and one entry here; its CLI flags are generated
from its options model.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from prefsmith.finetune.evaluate import dpo_evaluation, reward_matching
from prefsmith.finetune.policy import PolicyTrainer
from prefsmith.finetune.reward_model import RewardModelTrainer
from prefsmith.finetune.specs import Evaluation, Trainer
from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.evaluations import DpoEvaluationOptions, RewardMatchingOptions
from prefsmith.schemas.trainers import PolicyTrainOptions, RewardModelTrainOptions

TRAINERS: dict[str, Trainer] = {
    trainer.name: trainer
    for trainer in (
        RewardModelTrainer(
            "rm",
            RewardModelTrainOptions,
            kinds=("preference", "rm-pairs"),
            formats=("conversational", "standard", "rm-pairs"),
            summary="A reward model with trl's RewardTrainer; reports pair accuracy on the test "
            "split.",
        ),
        PolicyTrainer(
            "dpo",
            PolicyTrainOptions,
            kinds=("preference",),
            formats=("conversational", "standard"),
            summary="DPO with trl's DPOTrainer (beta, loss_type, ... via --set).",
        ),
        PolicyTrainer(
            "kto",
            PolicyTrainOptions,
            kinds=("preference",),
            formats=("kto",),
            summary="KTO with trl's KTOTrainer on unpaired rows (build preference --format kto).",
        ),
        PolicyTrainer(
            "sft",
            PolicyTrainOptions,
            kinds=("reward-in-prompt",),
            formats=("prompt-completion",),
            summary="Reward-conditioned SFT on a reward-in-prompt dataset, completion loss.",
        ),
    )
}

EVALUATIONS: dict[str, Evaluation] = {
    "reward-matching": Evaluation(
        reward_matching, RewardMatchingOptions, kinds=("reward-in-prompt",)
    ),
    "dpo": Evaluation(dpo_evaluation, DpoEvaluationOptions, kinds=("preference",)),
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
