"""Build flows: preference pairs, reward-model pairs and reward-in-prompt datasets.

    prefsmith build preference --store S --from human:hh-rlhf --name hh-pairs
    prefsmith build rm-pairs --store S --from human:hh-rlhf --name hh-rm
    prefsmith build reward-in-prompt --store S --rewards helpful=rm-a,harmless=rm-b --name rip

Parameters are the fields of `PreferenceBuildConfig` / `RewardInPromptBuildConfig`.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.flows.builders import build_preference, build_reward_in_prompt
from prefsmith.flows.store import Store
from prefsmith.schemas.config import (
    PreferenceBuildConfig,
    RewardInPromptBuildConfig,
    TokenRewardsBuildConfig,
    validate,
)


@task(name="build_preference_dataset", cache_policy=NONE, persist_result=False)
def build_preference_task(store: str, config: PreferenceBuildConfig) -> dict[str, Any]:
    return build_preference(Store(store), config)


@flow(name="build-preference")
def build_preference_flow(
    store: str,
    name: str,
    from_labelers: list[str],
    origins: list[str] | None = None,
    pairs: str = "best-worst",
    combine: str = "agree",
    weights: dict[str, float] | None = None,
    min_margin: float = 0.0,
    quantile: float = 0.25,
    format: str = "conversational",
    splits: dict[str, float] | None = None,
    seed: int = 0,
    license: str | None = None,
) -> dict[str, Any]:
    """Build a preference dataset (or RM pairs with `format="rm-pairs"`) from labelers."""
    settings = {k: v for k, v in locals().items() if k != "store" and v is not None}
    return build_preference_task(store, validate(PreferenceBuildConfig, settings))


@task(name="build_reward_in_prompt_dataset", cache_policy=NONE, persist_result=False)
def build_reward_in_prompt_task(store: str, config: RewardInPromptBuildConfig) -> dict[str, Any]:
    return build_reward_in_prompt(Store(store), config)


@flow(name="build-reward-in-prompt")
def build_reward_in_prompt_flow(
    store: str,
    name: str,
    rewards: dict[str, str],
    normalize: str = "minmax",
    open_tag: str = "<REWARD>",
    start_tag: str = "<SOS>",
    line: str = "{Name} reward: {value}",
    decimals: int = 2,
    format: str = "prompt-completion",
    splits: dict[str, float] | None = None,
    seed: int = 0,
    license: str | None = None,
) -> dict[str, Any]:
    """Build a reward-conditioned SFT dataset: rewards written into the prompt as text."""
    settings = {k: v for k, v in locals().items() if k != "store" and v is not None}
    return build_reward_in_prompt_task(store, validate(RewardInPromptBuildConfig, settings))


@task(name="build_token_rewards_dataset", cache_policy=NONE, persist_result=False)
def build_token_rewards_task(store: str, config: TokenRewardsBuildConfig) -> dict[str, Any]:
    from prefsmith.flows.token_rewards import build_token_rewards

    return build_token_rewards(Store(store), config)


@flow(name="build-token-rewards")
def build_token_rewards_flow(
    store: str,
    name: str,
    tokenizer: str,
    from_labeler: str = "critic",
    positive_reward_value: float = 1.0,
    negative_reward_value: float = -1.0,
    intrinsic_reward_threshold: float = 0.5,
    scalar_from: str | None = None,
    format: str = "token-rewards",
    splits: dict[str, float] | None = None,
    seed: int = 0,
    license: str | None = None,
) -> dict[str, Any]:
    """Build a dense-reward dataset: a critic's spans as one reward per response token."""
    settings = {k: v for k, v in locals().items() if k != "store" and v is not None}
    return build_token_rewards_task(store, validate(TokenRewardsBuildConfig, settings))
