"""Config name -> labeler class: a dict, not a plugin system."""

from __future__ import annotations

from prefsmith.labelers.base import Labeler
from prefsmith.labelers.critic import CriticLabeler
from prefsmith.labelers.judge import JudgeLabeler
from prefsmith.labelers.pairrm import PairRMLabeler
from prefsmith.labelers.reward_model import RewardModelLabeler
from prefsmith.labelers.yes_no import YesNoLabeler

REGISTRY: dict[str, type[Labeler]] = {
    RewardModelLabeler.key: RewardModelLabeler,
    YesNoLabeler.key: YesNoLabeler,
    PairRMLabeler.key: PairRMLabeler,
    JudgeLabeler.key: JudgeLabeler,
    CriticLabeler.key: CriticLabeler,
}
