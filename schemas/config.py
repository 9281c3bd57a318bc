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


def aliases(*flags: str) -> dict[str, Any]:
    """Extra command-line spellings of a field's flag (`--from` for `--from-labelers`)."""
    return {"flags": list(flags)}


def parse_assignments(items: list[str] | None, flag: str = "--set") -> dict[str, Any]:
    """`KEY=VALUE` flags (`--set`, `--option`); values read as YAML scalars, so `3` is a
    number, `true` a boolean, `[a, b]` a list and `rm` a string."""
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        try:
            settings[key.strip()] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            settings[key.strip()] = value
    return settings


def read_settings_file(path: str | None, flag: str = "--config") -> dict[str, Any]:
    """The mapping of settings in a YAML file given to `flag` (none without a file)."""
    if path is None:
        return {}
    if not Path(path).is_file():
        raise UserError(f"{flag} {path}: no such file")
    try:
        loaded = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{flag} {path}: invalid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{flag} {path}: expected a mapping of settings")
    return loaded


class DatasetBuildConfig(StrictModel):
    """Settings every dataset build shares."""

    name: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Dataset name (a folder under STORE/datasets).",
    )
    splits: dict[str, float] = Field(
        default_factory=lambda: {"train": 0.95, "test": 0.05},
        description="Split fractions, e.g. train=0.9,test=0.1.",
    )
    seed: int = Field(default=0, description="Seed of the split assignment.")
    license: str | None = Field(default=None, description="License for the dataset card.")

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
    combine: Literal["agree", "vote"] = Field(
        default="agree", description="With several labelers: keep pairs they agree on, or vote"
    )
    weights: dict[str, float] = Field(
        default_factory=dict, description="Vote weights, e.g. judge=2,rm=1."
    )
    min_margin: float = Field(default=0.0, ge=0, description="Score pairs: minimum difference.")
    quantile: float = Field(
        default=0.25, gt=0, le=0.5, description="Quantile pairs: top q against bottom q."
    )
    format: Literal["conversational", "standard", "openai", "rm-pairs"] = Field(
        default="conversational", description="Row format"
    )


class RmPairsBuildConfig(PreferenceBuildConfig):
    """`prefsmith build rm-pairs`: chosen/rejected hh-rlhf dialogues with a margin column,
    what `train rm` and the `reward_model` labeler's `hh` input read."""

    format: Literal["rm-pairs"] = Field(default="rm-pairs", description="Row format")


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
    format: Literal["prompt-completion", "openai"] = Field(
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
    format: Literal["token-rewards"] = Field(default="token-rewards", description="Row format")


class IngestStage(StrictModel):
    """The `ingest:` section of a run config: sources to load, in order."""

    hh_rlhf: list[HHIngestConfig] = Field(default_factory=list)
    prompts: list[PromptIngestConfig] = Field(default_factory=list)


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
    import typing

    return {
        name.replace("_", "-"): typing.get_args(field.annotation)[0]
        for name, field in BuildStage.model_fields.items()
    }


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
