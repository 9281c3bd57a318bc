"""Each trainer's own options (`prefsmith train NAME` flags, a `train:` entry's keys): the
options model a trainer declares in finetune/registry.py. trl's own settings (learning
rate, beta, ...) are not declared here: they go through `--set`/`--config` (`settings:`)."""

from __future__ import annotations

from pydantic import Field

from prefsmith.schemas.config import StrictModel, aliases


class RewardModelTrainOptions(StrictModel):
    """`train rm`: the encoder, how much of a conversation it reads, and the label margin."""

    base: str | None = Field(
        default=None, description="The encoder: Hub id or folder (default: bundled MiniLM)."
    )
    max_length: int = Field(
        default=256, ge=8, description="Tokens per input; the oldest turns are cut first."
    )
    margin: bool = Field(
        default=False,
        description="Train with each pair's label margin (trl's margin term: the chosen "
        "reward must beat the rejected one by it).",
    )


class PolicyTrainOptions(StrictModel):
    """`train dpo|kto|sft`: the policy, LoRA, the sequence length trl trains on, and how much
    of the test split it is evaluated on."""

    base: str | None = Field(
        default=None,
        description="The policy: Hub id or folder (default: bundled SmolLM2).",
        json_schema_extra=aliases("--policy"),
    )
    lora_r: int | None = Field(default=None, ge=1, description="Train a LoRA adapter of this rank.")
    max_length: int = Field(
        default=512, ge=8, description="Tokens per prompt + answer (trl's max_length)."
    )
    eval_rows: int | None = Field(
        default=None,
        ge=1,
        description="Evaluate on the first N rows of the test split (default: all of it); "
        "a quick check, as on a CPU.",
    )
