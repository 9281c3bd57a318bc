"""Configuration models: one per stage, strict (an unknown key is an error naming it).

A YAML key, the CLI flag and the Prefect flow parameter of a setting share one
name (`allow_empty` <-> `--allow-empty`). Secrets are never configuration: they
come from the environment or a Prefect Secret block.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.hh_rlhf import SUBSETS

PromptFormat = Literal["auto", "jsonl", "parquet", "csv", "mt-bench", "messages"]


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HHIngestConfig(StrictModel):
    """`prefsmith ingest hh-rlhf`: a file, a directory, or the Hub id with a subset."""

    source: str
    subset: str | None = None
    split: str = "train"
    allow_empty: bool = False
    source_name: str | None = None
    limit: int | None = Field(default=None, ge=1)

    @field_validator("subset")
    @classmethod
    def _known_subset(cls, value: str | None) -> str | None:
        if value is not None and value not in SUBSETS:
            raise ValueError(f"unknown subset {value!r}; choose one of {', '.join(SUBSETS)}")
        return value


class PromptIngestConfig(StrictModel):
    """`prefsmith ingest prompts`: JSONL/Parquet/CSV files, MT-Bench questions, or a Hub id."""

    source: str
    format: PromptFormat = "auto"
    prompt_field: str | None = None
    messages_field: str | None = None
    id_field: str | None = None
    references: str | None = None
    split: str = "train"
    source_name: str | None = None
    limit: int | None = Field(default=None, ge=1)


M = TypeVar("M", bound=BaseModel)


def describe_validation_error(error: ValidationError, where: str = "") -> str:
    """One line per problem, naming the key: `ingest.subset: unknown subset 'x'`."""
    lines = []
    for problem in error.errors():
        key = ".".join(str(part) for part in problem["loc"]) or "(root)"
        if problem["type"] == "extra_forbidden":
            message = f"unknown key {key!r}"
        else:
            message = f"{key}: {problem['msg'].removeprefix('Value error, ')}"
        lines.append(f"{where}{message}")
    return "; ".join(lines)


def validate(model: type[M], values: dict[str, Any], where: str = "") -> M:
    """`model(**values)`, with a validation failure turned into a one-line UserError."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        raise UserError(describe_validation_error(error, where)) from None


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings at the top level")
    return data


class DatasetBuildConfig(StrictModel):
    """Settings every dataset build shares."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    splits: dict[str, float] = Field(default_factory=lambda: {"train": 0.95, "test": 0.05})
    seed: int = 0
    license: str | None = None

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
    """`prefsmith build preference` (`--from` on the command line is `from_labelers` here)."""

    from_labelers: list[str] = Field(min_length=1)
    origins: list[str] | None = None  # only candidates whose origin starts with one of these
    pairs: Literal["best-worst", "all", "quantile", "adjacent"] = "best-worst"
    combine: Literal["agree", "vote"] = "agree"
    weights: dict[str, float] = Field(default_factory=dict)
    min_margin: float = Field(default=0.0, ge=0)
    quantile: float = Field(default=0.25, gt=0, le=0.5)
    format: Literal["conversational", "standard", "openai", "rm-pairs"] = "conversational"


class RewardInPromptBuildConfig(DatasetBuildConfig):
    """`prefsmith build reward-in-prompt`: `rewards` maps a dimension name to a labeler."""

    rewards: dict[str, str] = Field(min_length=1)
    normalize: Literal["minmax", "zscore-sigmoid", "quantile", "none"] = "minmax"
    open_tag: str = "<REWARD>"
    start_tag: str = "<SOS>"
    line: str = "{Name} reward: {value}"
    decimals: int = Field(default=2, ge=0, le=6)
    format: Literal["prompt-completion", "openai"] = "prompt-completion"


class TokenRewardsBuildConfig(DatasetBuildConfig):
    """`prefsmith build token-rewards`: critic spans as one reward per response token."""

    from_labeler: str = "critic"
    tokenizer: str
    positive_reward_value: float = 1.0
    negative_reward_value: float = -1.0
    intrinsic_reward_threshold: float = Field(default=0.5, gt=0, le=1)
    scalar_from: str | None = None  # a score labeler added at the last token
    format: Literal["token-rewards"] = "token-rewards"


class IngestStage(StrictModel):
    """The `ingest:` section of a run config: sources to load, in order."""

    hh_rlhf: list[HHIngestConfig] = Field(default_factory=list)
    prompts: list[PromptIngestConfig] = Field(default_factory=list)


class BuildStage(StrictModel):
    """The `build:` section: datasets to (re)build from the store's labels."""

    preference: list[PreferenceBuildConfig] = Field(default_factory=list)
    reward_in_prompt: list[RewardInPromptBuildConfig] = Field(default_factory=list)


class ExportConfig(StrictModel):
    """One `export:` entry: a built dataset to a folder or hub://ORG/NAME."""

    dataset: str
    to: str
    private: bool = True
    token_secret: str | None = None


class TrainConfig(StrictModel):
    """One `train:` entry: a fine-tune on a dataset, in this run or on another work pool."""

    trainer: Literal["rm", "dpo", "sft"]
    dataset: str
    output: str
    base: str | None = None  # rm: the encoder; dpo/sft: the policy (default: bundled models)
    lora_r: int | None = Field(default=None, ge=1)
    max_length: int = Field(default=256, ge=8)  # rm: tokens per input, answer kept
    settings: dict[str, Any] = Field(default_factory=dict)  # trl config fields
    resume: bool = False
    deployment: str | None = None  # "train/train-gpu": run there instead of as a subflow
    wait: bool = True  # with a deployment: wait for its run to end

    def flow_options(self) -> dict[str, Any]:
        """The keyword options of the trainer function."""
        if self.trainer == "rm":
            options = {"base": self.base, "max_length": self.max_length}
        else:
            options = {"policy": self.base, "lora_r": self.lora_r}
        return {**options, "overrides": self.settings, "resume": self.resume}
