"""Configuration models: one per stage, strict (an unknown key is an error naming it).

A YAML key, the CLI flag and the Prefect flow parameter of a setting share one
name (`allow_empty` <-> `--allow-empty`). Secrets are never configuration: they
come from the environment or a Prefect Secret block.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.preference_ingest import (
    CompletionIngestConfig,
    LabelIngestConfig,
    PairIngestConfig,
)
from prefsmith.schemas.strict import StrictModel

PromptFormat = Literal["auto", "jsonl", "parquet", "csv", "mt-bench", "messages"]

# hh-rlhf's subsets: the folders of Anthropic/hh-rlhf on the Hub.
SUBSETS = ("harmless-base", "helpful-base", "helpful-online", "helpful-rejection-sampled")


# A dataset's name is a folder under STORE/datasets and the name of its Hub repo: at most 96
# letters, digits, `-`, `_` and `.`, as the Hub allows (no path, nothing a file system refuses).
DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,95}")


def _dataset_name(name: str) -> str:
    if not DATASET_NAME.fullmatch(name):
        raise ValueError(
            f"{name[:40]!r}{'...' if len(name) > 40 else ''} is not a dataset name: at most 96 "
            "letters, digits, '-', '_' or '.', starting with a letter or digit"
        )
    return name


DatasetName = Annotated[str, AfterValidator(_dataset_name)]


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


# A list that also takes "a,b" (an `--option aspects=a,b` value is one string).
CommaList = Annotated[list[str], BeforeValidator(_comma_list)]


class HHIngestConfig(StrictModel):
    """`prefsmith ingest hh-rlhf`: a file, a directory, or the Hub id with a subset."""

    source: str = Field(description="File, directory, or Anthropic/hh-rlhf.")
    subset: str | None = Field(
        default=None, description="Hub data_dir: harmless-base, helpful-base, ..."
    )
    split: str = Field(default="train", description="Hub split.")
    allow_empty: bool = Field(default=False, description="Keep pairs with an empty answer.")
    source_name: str | None = Field(default=None, description="Name stored as the source.")
    limit: int | None = Field(default=None, ge=1, description="Stop after N input rows.")

    @field_validator("subset")
    @classmethod
    def _known_subset(cls, value: str | None) -> str | None:
        if value is not None and value not in SUBSETS:
            raise ValueError(f"unknown subset {value!r}; choose one of {', '.join(SUBSETS)}")
        return value


class PromptIngestConfig(StrictModel):
    """`prefsmith ingest prompts`: JSONL/Parquet/CSV files, MT-Bench questions, or a Hub id."""

    source: str = Field(description="File, directory, or Hub dataset id.")
    format: PromptFormat = Field(default="auto", description="Input format")
    prompt_field: str | None = Field(default=None, description="Column holding the prompt text.")
    messages_field: str | None = Field(default=None, description="Column holding chat messages.")
    id_field: str | None = Field(default=None, description="Column holding a stable id.")
    references: str | None = Field(
        default=None, description="Reference answers, joined on the id field."
    )
    split: str = Field(default="train", description="Hub split.")
    source_name: str | None = Field(default=None, description="Name stored as the source.")
    limit: int | None = Field(default=None, ge=1, description="Stop after N input rows.")


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


def aliases(*flags: str) -> dict[str, Any]:
    """Extra command-line spellings of a field's flag (`--from` for `--from-labelers`)."""
    return {"flags": list(flags)}


class IngestStage(StrictModel):
    """The `ingest:` section of a run config: sources to load, in order."""

    hh_rlhf: list[HHIngestConfig] = Field(default_factory=list)
    prompts: list[PromptIngestConfig] = Field(default_factory=list)
    pairs: list[PairIngestConfig] = Field(default_factory=list)
    completions: list[CompletionIngestConfig] = Field(default_factory=list)
    labels: list[LabelIngestConfig] = Field(default_factory=list)


class ExportConfig(StrictModel):
    """One `export:` entry: a built dataset to a folder or hub://ORG/NAME."""

    dataset: DatasetName = Field(description="A dataset of the store.")
    to: str = Field(description="A new folder, or hub://ORG/NAME.")
    private: bool = Field(
        default=True, description="Hub visibility.", json_schema_extra={"negative": "--public"}
    )
    token_secret: str | None = Field(
        default=None, description="Prefect Secret block holding the Hub token (else HF_TOKEN)."
    )


class TrainConfig(StrictModel):
    """One `train:` entry (`prefsmith train TRAINER`): a fine-tune on a dataset, in this run
    or on another work pool. `options` are the trainer's own (its options model in
    finetune/registry.py); a run config may also give them beside these keys."""

    trainer: str = Field(description="The trainer: a name in finetune/registry.py.")
    dataset: DatasetName = Field(description="A dataset built in the store (its name).")
    output: str = Field(description="Folder for the model, config, metrics, card.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="The trainer's own options (base, max_length, ...)."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict, description="trl config settings (RewardConfig, DPOConfig, ...)."
    )
    resume: bool = Field(default=False, description="Continue from the last checkpoint in OUTPUT.")
    deployment: str | None = Field(
        default=None, description="Run on this deployment (e.g. train/train-gpu) instead of here."
    )
    wait: bool = Field(default=True, description="With a deployment: wait for its run to end.")

    @model_validator(mode="before")
    @classmethod
    def _options_beside_the_keys(cls, data: Any) -> Any:
        """`base: ...` beside `trainer:` reads as `options: {base: ...}`: the trainer's
        options model then names any key it does not know."""
        if not isinstance(data, dict):
            return data
        flat = {k: v for k, v in data.items() if k not in cls.model_fields}
        if not flat:
            return data
        kept = {k: v for k, v in data.items() if k in cls.model_fields}
        return {**kept, "options": {**flat, **(kept.get("options") or {})}}
