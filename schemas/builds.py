"""Settings of the dataset builds, one model per kind, and `BuildStage`, the run config's
`build:` section whose fields are the one list of kinds."""

from __future__ import annotations

import typing
from typing import Literal

from pydantic import Field, field_validator, model_validator

from prefsmith.schemas.config import DatasetName, StrictModel, aliases
from prefsmith.schemas.formats import formats_of


class DatasetBuildConfig(StrictModel):
    """Settings every dataset build shares."""

    name: DatasetName = Field(
        description="Dataset name: a folder under STORE/datasets and a Hub repo name (at most 96 of "
        "A-Z a-z 0-9 - _ .)."
    )
    splits: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.95, "test": 0.05},
        description="Split fractions, e.g. train=0.9,test=0.1.",
    )
    seed: int = Field(default=0, description="Seed of the split assignment.")
    license: str | None = Field(default=None, description="License for the dataset card.")
    at: int | None = Field(
        default=None,
        ge=0,
        description="Build from the store as it was at this version (a dataset's "
        "store_version in manifest.json): the same rows, whatever was added since.",
    )

    @field_validator("splits")
    @classmethod
    def _fractions(cls, value: dict[str, float]) -> dict[str, float]:
        if (
            not value
            or any(not 0 < f <= 1 for f in value.values())
            or abs(sum(value.values()) - 1) > 1e-6
        ):
            raise ValueError(f"split fractions must be in (0, 1] and add up to 1, got {value}")
        return value


class PreferenceBuildConfig(DatasetBuildConfig):
    """`prefsmith build preference`: trl-ready pairs from one or more labelers."""

    from_labelers: list[str] = Field(
        min_length=1,
        description="Labeler(s) to build from; NAME@FINGERPRINT pins one (repeatable or a,b).",
        json_schema_extra=aliases("--from"),
    )
    origins: list[str] | None = Field(
        default=None,
        description="Only candidates whose origin starts with this (repeatable).",
        json_schema_extra=aliases("--origin"),
    )
    pairs: Literal["best-worst", "all", "quantile", "adjacent"] = Field(
        default="best-worst", description="Which pairs of a prompt's candidates"
    )
    combine: Literal["agree", "vote", "first"] | None = Field(
        default=None,
        description="With several labelers: keep pairs they agree on, vote, or let the first "
        "with a preference decide (default: first when the first labeler is a verifier, "
        "else agree)",
    )
    weights: dict[str, float] = Field(
        default_factory=dict, description="Vote weights, e.g. judge=2,rm=1."
    )
    min_margin: float = Field(default=0.0, ge=0, description="Score pairs: minimum difference.")
    quantile: float = Field(
        default=0.25, gt=0, le=0.5, description="Quantile pairs: top q against bottom q."
    )
    format: formats_of("preference") = Field(
        default="conversational",
        description="Row format (kto: trl's unpaired prompt/completion/label rows)",
    )
    decontaminate: list[str] = Field(
        default_factory=list,
        description="Benchmark sets to drop overlapping pairs against: prompt sources in the "
        "store (mt-bench) or JSONL files (repeatable or a,b).",
    )
    ngram: int = Field(
        default=13, ge=3, description="Words per n-gram that counts as contamination."
    )
    dedup_near: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="Drop near-duplicate prompts at this Jaccard similarity (e.g. 0.8).",
    )
    redact_pii: bool = Field(
        default=False,
        description="Replace e-mails, phones, IPs, card numbers and keys with placeholders.",
    )
    tokenizer: str | None = Field(
        default=None,
        description="Tokenizer (folder or Hub id) for the checks after tokenization.",
    )
    kto_threshold: float | None = Field(
        default=None,
        description="kto: desirable when the first labeler's score is at least this (default: "
        "the pairs' verdicts).",
    )
    max_length_bias: float | None = Field(
        default=None,
        ge=0,
        lt=1,
        description="Drop pairs whose chosen answer is longer until their share is at most this.",
    )
    max_length: int | None = Field(
        default=None, ge=8, description="Token budget of prompt + answer (with --tokenizer)."
    )

    @model_validator(mode="after")
    def _budget_with_tokenizer(self) -> PreferenceBuildConfig:
        if (self.tokenizer is None) != (self.max_length is None):
            raise ValueError("--tokenizer and --max-length go together")
        if self.kto_threshold is not None and self.format != "kto":
            raise ValueError("--kto-threshold applies to --format kto")
        return self


class RmPairsBuildConfig(PreferenceBuildConfig):
    """`prefsmith build rm-pairs`: chosen/rejected hh-rlhf dialogues with a margin column,
    what `train rm` and the `reward_model` labeler's `hh` input read."""

    format: formats_of("rm-pairs") = Field(default="rm-pairs", description="Row format")


class RewardInPromptBuildConfig(DatasetBuildConfig):
    """`prefsmith build reward-in-prompt`: `rewards` maps a dimension name to a labeler."""

    rewards: dict[str, str] = Field(
        min_length=1, description="Dimensions and labelers, e.g. helpful=rm-a,harmless=rm-b."
    )
    normalize: Literal["minmax", "zscore-sigmoid", "quantile", "none"] = Field(
        default="minmax", description="How scores become rewards"
    )
    open_tag: str = Field(default="<REWARD>", description="Line opening the reward block.")
    start_tag: str = Field(
        default="<SOS>", description="Marker after the block, before the response."
    )
    line: str = Field(
        default="{Name} reward: {value}", description="One reward line; {Name}, {name}, {value}."
    )
    decimals: int = Field(default=2, ge=0, le=6, description="Decimals of each reward.")
    format: formats_of("reward-in-prompt") = Field(
        default="prompt-completion", description="Row format"
    )


class TokenRewardsBuildConfig(DatasetBuildConfig):
    """`prefsmith build token-rewards`: critic spans as one reward per response token."""

    from_labeler: str = Field(
        default="critic", description="The critic labeler.", json_schema_extra=aliases("--from")
    )
    tokenizer: str = Field(description="Tokenizer (Hub id or folder) of the policy.")
    positive_reward_value: float = Field(
        default=1.0, description="Reward of a token in a good span.",
        json_schema_extra=aliases("--positive"),
    )  # fmt: skip
    negative_reward_value: float = Field(
        default=-1.0, description="Reward of a token in a bad span.",
        json_schema_extra=aliases("--negative"),
    )  # fmt: skip
    intrinsic_reward_threshold: float = Field(
        default=0.5, gt=0, le=1, description="Share of a token's characters a span must cover.",
        json_schema_extra=aliases("--threshold"),
    )  # fmt: skip
    scalar_from: str | None = Field(
        default=None, description="A score labeler added at the last token."
    )
    format: formats_of("token-rewards") = Field(default="token-rewards", description="Row format")


class BuildStage(StrictModel):
    """The `build:` section: datasets to (re)build from the store's labels, by kind. Its
    fields are the one list of dataset kinds: `prefsmith build KIND` (a dash for each
    underscore), the build flow and the builder registry are keyed by them."""

    preference: list[PreferenceBuildConfig] = Field(default_factory=list)
    rm_pairs: list[RmPairsBuildConfig] = Field(default_factory=list)
    reward_in_prompt: list[RewardInPromptBuildConfig] = Field(default_factory=list)
    token_rewards: list[TokenRewardsBuildConfig] = Field(default_factory=list)

    def entries(self) -> list[tuple[str, DatasetBuildConfig]]:
        """(kind, settings) of every build, in the order of the kinds."""
        return [
            (field.replace("_", "-"), config)
            for field in type(self).model_fields
            for config in getattr(self, field)
        ]


def build_kinds() -> dict[str, type[DatasetBuildConfig]]:
    """Dataset kind (`rm-pairs`) -> its settings model, from the fields of BuildStage."""
    return {
        name.replace("_", "-"): typing.get_args(field.annotation)[0]
        for name, field in BuildStage.model_fields.items()
    }
