"""Config name -> labeler class: a dict, not a plugin system. Every caller (the CLI,
run configs, flows) builds a labeler through `build_labeler`, and lists them from `REGISTRY`."""

from __future__ import annotations

from typing import Any

from prefsmith.labelers.base import Labeler, LabelerOptions
from prefsmith.labelers.critic import CriticLabeler
from prefsmith.labelers.judge import JudgeLabeler
from prefsmith.labelers.pairrm import PairRMLabeler
from prefsmith.labelers.panel import PanelLabeler
from prefsmith.labelers.reward_model import RewardModelLabeler
from prefsmith.labelers.verify_code import VerifyCodeLabeler
from prefsmith.labelers.verify_instructions import VerifyInstructionsLabeler
from prefsmith.labelers.verify_math import VerifyMathLabeler
from prefsmith.labelers.yes_no import YesNoLabeler
from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError

REGISTRY: dict[str, type[Labeler]] = {
    RewardModelLabeler.key: RewardModelLabeler,
    YesNoLabeler.key: YesNoLabeler,
    PairRMLabeler.key: PairRMLabeler,
    JudgeLabeler.key: JudgeLabeler,
    CriticLabeler.key: CriticLabeler,
    PanelLabeler.key: PanelLabeler,
    VerifyMathLabeler.key: VerifyMathLabeler,
    VerifyCodeLabeler.key: VerifyCodeLabeler,
    VerifyInstructionsLabeler.key: VerifyInstructionsLabeler,
}


def options_of(key: str, options: dict[str, Any]) -> LabelerOptions:
    """The validated options of the labeler registered as `key` (UserError naming the key),
    without building it: for a model that an earlier stage of the run will make."""
    if key not in REGISTRY:
        raise UserError(f"unknown labeler {key!r}; labelers: {', '.join(sorted(REGISTRY))}")
    fields = REGISTRY[key].Options.model_fields
    unknown = [name for name in options if name not in fields]
    if unknown:
        raise UserError(
            f"labeler {key}: unknown key {unknown[0]!r}; {key}'s options: {', '.join(fields)}"
        )
    return validate(REGISTRY[key].Options, options, where=f"labeler {key}: ")


def build_labeler(key: str, options: dict[str, Any]) -> Labeler:
    """The labeler registered as `key`, with validated options (UserError naming the key)."""
    options_ = options_of(key, options)  # an unknown key is a UserError, not a KeyError
    return REGISTRY[key](options_)
