"""The run config of `prefsmith run CONFIG`: one strict model per pipeline stage.

Stages run in this order, each optional:

    ingest -> generate -> reward_models -> label -> annotate -> eval_labelers -> build
           -> export -> train -> evaluate -> self_reward -> report

`reward_models` trains the reward models the `label` stage uses (from the human
labels already in the store); `train` fine-tunes on the datasets `build` made.
Any string value may contain `{store}`, replaced by the run's store directory, so
models and reports live next to the data they came from (`--store` moves them too).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from prefsmith.schemas.builds import BuildStage, DatasetBuildConfig
from prefsmith.schemas.config import (
    DatasetName,
    ExportConfig,
    IngestStage,
    StrictModel,
    TrainConfig,
    aliases,
    validate,
)
from prefsmith.schemas.endpoints import EndpointOptions
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.evaluations import LabelerEvalConfig
from prefsmith.schemas.locations import DEFAULT_STORE
from prefsmith.schemas.self_reward import SelfRewardConfig
from prefsmith.schemas.settings_text import load_yaml


class GenerateConfig(EndpointOptions):
    """`generate:`: N candidates per prompt from an endpoint (its fields: `EndpointOptions`)."""

    n: int = Field(default=2, ge=1, description="Candidates per prompt.")
    temperature: float = Field(default=0.7, ge=0, description="Sampling temperature.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="Nucleus sampling.")
    max_tokens: int = Field(default=256, ge=1, description="Tokens per answer.")
    seed: int | None = Field(default=0, description="Base seed; sample i uses seed + i.")
    limit: int | None = Field(default=None, ge=1, description="At most N samples this run.")
    sources: list[str] | None = Field(
        default=None,
        description="Only prompts whose source starts with this (repeatable).",
        json_schema_extra=aliases("--source"),
    )
    first_turn_only: bool = Field(
        default=False, description="Multi-turn prompts: answer the first turn only."
    )
    max_cost: float | None = Field(
        default=None,
        ge=0,
        description="Stop before a batch that could take this run's spending past USD.",
    )

    @model_validator(mode="after")
    def _distinct_samples(self) -> GenerateConfig:
        if self.n > 1 and not self.temperature:
            raise ValueError(
                "n > 1 at temperature 0 would give identical candidates; set a temperature"
            )
        if self.batch and self.n > 1 and self.seed is None:
            raise ValueError("batch with n > 1 needs a seed: sample i is asked with seed + i")
        return self

    def sampling(self) -> dict[str, Any]:
        """What every request of this generator is sampled with (the seed varies per sample)."""
        return {"temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens}


class LabelConfig(StrictModel):
    """One `label:` entry: a labeler (registry key) and its options, as `prefsmith label`."""

    labeler: str = Field(description="reward_model, yes_no, pairrm, judge, critic or panel.")
    options: dict[str, Any] = Field(
        default_factory=dict, description="The labeler's own options (its Options model)."
    )
    limit: int | None = Field(default=None, ge=1, description="Label at most N items this run.")
    origins: list[str] | None = Field(
        default=None,
        description="Only candidates whose origin starts with this (repeatable): generate:",
        json_schema_extra=aliases("--origin"),
    )
    sample: float | None = Field(
        default=None, gt=0, le=1,
        description="Only this share of the prompts, picked by a hash of their ids (the same "
        "prompts every run, and every labeler given the same share picks the same ones).",
    )  # fmt: skip
    shards: int = Field(
        default=1, ge=1, description="Split the items into N parts labeled in parallel."
    )
    task_runner: str | None = Field(
        default=None,
        description="Where the shards run: threads, dask, dask?workers=N, dask://HOST:PORT, "
        "ray, ray://HOST:PORT (docs/scale-out.md).",
    )
    retry_errors: list[str] = Field(
        default_factory=list,
        description="Ask again for items stored as final errors with these reasons "
        "(unparseable, inconsistent, ...; all: every one), replacing their labels.",
    )
    max_cost: float | None = Field(
        default=None,
        ge=0,
        description="Stop before a batch that could take this run's spending past USD "
        "(judge, critic; split evenly across shards).",
    )


class RewardModelStage(DatasetBuildConfig):
    """One `reward_models:` entry: RM pairs from labels already in the store (human ones,
    usually), and a reward model trained on them before the `label` stage runs."""

    from_labelers: list[str] = Field(min_length=1)
    output: str | None = None  # default: STORE/models/NAME
    base: str | None = None  # default: the bundled all-MiniLM-L6-v2
    max_length: int = Field(default=256, ge=8)
    settings: dict[str, Any] = Field(default_factory=dict)

    def build(self) -> dict[str, Any]:
        """The preference build's settings (the flow's parameters)."""
        keys = ("name", "splits", "seed", "license", "from_labelers")
        return {k: getattr(self, k) for k in keys}

    def train(self, store: str) -> TrainConfig:
        return TrainConfig(
            trainer="rm",
            dataset=self.name,
            output=self.output or str(Path(store) / "models" / self.name),
            base=self.base,
            max_length=self.max_length,
            settings=self.settings,
        )


class AnnotatePushConfig(StrictModel):
    """`annotate: push:`: what `prefsmith annotate push` sends to Label Studio."""

    project: str = Field(description="Project title (created on first push).")
    template: Literal["ranker", "pairwise"] = Field(
        default="ranker", description="Task layout: ranker (2..N best first) or pairwise"
    )
    select: Literal["all", "random", "disagreement", "margin", "inconsistent", "uncertain"] = Field(
        default="all",
        description="Which items go to the annotators (uncertain: the pairs a panel or "
        "logprob judge is least sure of, first)",
    )
    labelers: list[str] | None = Field(
        default=None,
        description="Labelers the selection reads (repeatable or a,b).",
        json_schema_extra=aliases("--labeler"),
    )
    predictions_from: list[str] | None = Field(
        default=None,
        description="Labelers shown as predictions (default: --labelers).",
        json_schema_extra=aliases("--predictions"),
    )
    limit: int | None = Field(
        default=None,
        ge=1,
        description="The first N selected items (raise it to send more).",
        json_schema_extra=aliases("--budget"),
    )
    per_prompt: int | None = Field(default=None, ge=1, description="At most N items per prompt.")
    max_candidates: int = Field(default=4, ge=2, description="ranker: candidates per task.")
    seed: int = Field(default=0, description="random: the sample's seed.")


class AnnotateStage(StrictModel):
    """`annotate:`: push items to Label Studio and/or pull its annotations back
    (LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY come from the environment)."""

    push: AnnotatePushConfig | None = None
    pull: list[str] = Field(default_factory=list)  # project titles


class EvaluateConfig(StrictModel):
    """One `evaluate:` entry: `reward-matching` of a reward-conditioned policy, or `dpo`
    (a tuned policy against its base); `options` are the fields of the kind's options model
    (finetune/registry.py), the flags of `prefsmith eval KIND`."""

    kind: str = Field(description="The evaluation: a name in finetune/registry.py.")
    dataset: DatasetName = Field(description="A dataset built in the store (its name).")
    output: str = Field(description="Folder for the report and its plots.")
    options: dict[str, Any] = Field(default_factory=dict)


class ReportConfig(StrictModel):
    """`report:`: the run report (Markdown and a self-contained HTML page, with plots)."""

    enabled: bool = True
    output: str | None = None  # default: STORE/report
    examples: int = Field(default=3, ge=0)


class RunConfig(StrictModel):
    """A whole run (`prefsmith run CONFIG`). Relative paths are relative to the working
    directory the run starts in."""

    store: str = DEFAULT_STORE
    max_cost: float | None = Field(
        default=None,
        ge=0,
        description="The whole run's budget in USD: paid stages share what is left of it, "
        "and the run stops (exit 0, stopped: budget) when one of them reaches it.",
    )
    ingest: IngestStage = Field(default_factory=IngestStage)
    generate: GenerateConfig | None = None
    reward_models: list[RewardModelStage] = Field(default_factory=list)
    label: list[LabelConfig] = Field(default_factory=list)
    annotate: AnnotateStage | None = None
    eval_labelers: list[LabelerEvalConfig] = Field(default_factory=list)
    build: BuildStage = Field(default_factory=BuildStage)
    export: list[ExportConfig] = Field(default_factory=list)
    train: list[TrainConfig] = Field(default_factory=list)
    evaluate: list[EvaluateConfig] = Field(default_factory=list)
    self_reward: SelfRewardConfig | None = None
    report: ReportConfig = Field(default_factory=ReportConfig)

    def datasets(self) -> list[str]:
        """Names of the datasets this run builds, in order."""
        return [b.name for b in self.reward_models] + [b.name for _, b in self.build.entries()]


def _with_store(value: Any, store: str) -> Any:
    if isinstance(value, str):
        return value.replace("{store}", store)
    if isinstance(value, dict):
        return {k: _with_store(v, store) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_store(v, store) for v in value]
    return value


def load_run_config(path: str | Path, store: str | None = None) -> RunConfig:
    """Read and validate a run config (UserError naming the file and the key); `store`
    overrides the config's, and `{store}` in any value becomes the store directory."""
    raw = load_yaml(path)
    where = f"{path}: "
    store = store or validate(RunConfig, raw, where=where).store
    if "{store}" in store:
        raise UserError(f"{where}store: may not itself contain {{store}}")
    return validate(RunConfig, _with_store({**raw, "store": store}, store), where=where)
