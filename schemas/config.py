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


class IngestStage(StrictModel):
    """The `ingest:` section of a run config: sources to load, in order."""

    hh_rlhf: list[HHIngestConfig] = Field(default_factory=list)
    prompts: list[PromptIngestConfig] = Field(default_factory=list)


class RunConfig(StrictModel):
    """A whole run (`prefsmith run CONFIG`); later stages join as they are built.

    Relative paths are relative to the working directory the run starts in.
    """

    store: str = "prefsmith-store"
    ingest: IngestStage = Field(default_factory=IngestStage)


def load_run_config(path: str | Path) -> RunConfig:
    """Read and validate a run config; UserError naming the file and the key."""
    return validate(RunConfig, load_yaml(path), where=f"{path}: ")
