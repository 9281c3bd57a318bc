"""Settings of the evaluations (`prefsmith eval KIND`, a run config's `evaluate:` entries):
one model per kind, the single declaration its CLI flags and run-config options come from."""

from __future__ import annotations

from pydantic import Field, model_validator

from prefsmith.schemas.config import StrictModel


class RewardMatchingOptions(StrictModel):
    """`eval reward-matching`: does a reward-conditioned policy's answer earn the reward its
    prompt asked for? Requested vs achieved reward per dimension."""

    policy: str = Field(description="The reward-conditioned policy folder.")
    reward_models: dict[str, str] = Field(
        description="DIMENSION=RM_FOLDER for each dimension, comma-separated.",
        json_schema_extra={"flags": ["--rm"]},
    )
    samples: int = Field(default=32, ge=1, description="Held-out prompts to answer.")
    max_new_tokens: int = Field(default=64, ge=1, description="Tokens per answer.")
    seed: int = Field(default=0, description="Seed of the sampled targets.")
    device: str = Field(default="auto", description="auto, cpu or cuda.")


class DpoEvaluationOptions(StrictModel):
    """`eval dpo`: a tuned policy against its base, by a reward model's mean score and, with
    a judge endpoint, the judge's win rate of tuned over base."""

    policy: str = Field(description="The tuned policy folder.")
    reward_model: str = Field(
        description="Reward model folder to score the answers.",
        json_schema_extra={"flags": ["--rm"]},
    )
    base: str | None = Field(
        default=None, description="Base policy: Hub id or folder (default: bundled SmolLM2)."
    )
    judge_endpoint: str | None = Field(
        default=None, description="Judge tuned vs base too: local or an OpenAI-compatible URL."
    )
    judge_model: str | None = Field(default=None, description="The judge's model.")
    judge_max_tokens: int = Field(default=256, ge=1, description="Tokens per judge answer.")
    samples: int = Field(default=16, ge=1, description="Held-out prompts to answer.")
    max_new_tokens: int = Field(default=64, ge=1, description="Tokens per answer.")
    device: str = Field(default="auto", description="auto, cpu or cuda.")


class LabelerEvalConfig(StrictModel):
    """`eval labelers`: how good each labeler is against gold labels (usually human ones)."""

    gold: str | None = Field(
        default=None,
        description="The gold labeler: human:hh-rlhf, human:label-studio, ... (or --rewardbench).",
    )
    rewardbench: str | None = Field(
        default=None,
        description="A local Parquet in RewardBench's layout (prompt, chosen, rejected, subset): "
        "ingested first, it is the gold; figures per subset and RewardBench's sections.",
    )
    labelers: list[str] | None = Field(
        default=None,
        description="Labelers to evaluate (repeatable or a,b; default: every one that "
        "compares candidates). LABELER:ASPECT for one aspect of a rubric judge.",
    )
    by: str | None = Field(
        default=None,
        description="Split by a prompt field: source (or origin), or a metadata key (category).",
    )
    seed: int = Field(default=0, description="Seed of the bootstrap intervals.")

    @model_validator(mode="after")
    def _one_gold(self) -> LabelerEvalConfig:
        if (self.gold is None) == (self.rewardbench is None):
            raise ValueError("give --gold LABELER or --rewardbench FILE (one of them)")
        return self
