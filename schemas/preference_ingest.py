"""Settings of `prefsmith ingest pairs|labels|completions`: other people's preference data.

Every field name can be given by a flag; without flags the layout is detected from the
first row (ingest/pair_layouts.py lists the known ones).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from prefsmith.schemas.strict import StrictModel


class PairFields(StrictModel):
    """Where a pairwise row keeps its prompt, its two answers and the verdict."""

    source: str = Field(description="File (JSONL, JSON array, Parquet, CSV), directory, or Hub id.")
    labeler: str = Field(description="The name the verdicts are stored under (your gold's name).")
    prompt_field: str | None = Field(
        default=None, description="Prompt column (text or messages); none: the shared prefix."
    )
    chosen_field: str | None = Field(default=None, description="Preferred answer column.")
    rejected_field: str | None = Field(default=None, description="Other answer column.")
    first_field: str | None = Field(default=None, description="First answer shown (A).")
    second_field: str | None = Field(default=None, description="Second answer shown (B).")
    winner_field: str | None = Field(default=None, description="Column naming the winner.")
    winner_values: str | None = Field(
        default=None,
        description="first=V1,second=V2[,tie=V3]; a side may take several values: tie=a|b.",
    )
    ranking_field: str | None = Field(
        default=None, description="Column of answers best first (a ranking label)."
    )
    also: list[str] = Field(
        default_factory=list,
        description="NAME=FIELD: a second verdict from the same rows, stored as labeler NAME.",
    )
    subset_field: str | None = Field(default=None, description="Column of each pair's subset.")
    subset_from_folder: bool = Field(
        default=False,
        description="A pair's subset is its file's folder under SOURCE (LLMBar's Natural, "
        "Adversarial/Neighbor, ...).",
    )
    turn_field: str | None = Field(
        default=None,
        description="Column of the judged turn N: whole conversations are cut after their "
        "N-th answer (MT-Bench's turn 1 and turn 2 judgments).",
    )
    strength_field: str | None = Field(
        default=None, description="Preference strength, kept as the label's margin."
    )
    first_model_field: str | None = Field(
        default=None, description="Model of the first (or chosen) answer: its origin."
    )
    second_model_field: str | None = Field(
        default=None, description="Model of the second (or rejected) answer."
    )
    conflicts: Literal["reject", "tie"] = Field(
        default="reject", description="One pair with two verdicts in a file: reject it, or a tie."
    )
    split: str = Field(default="train", description="Hub split.")
    source_name: str | None = Field(default=None, description="Name stored as the source.")
    limit: int | None = Field(default=None, ge=1, description="Stop after N input rows.")


class PairIngestConfig(PairFields):
    """`prefsmith ingest pairs`: prompts, answers and one label per row from `labeler`."""


class LabelIngestConfig(PairFields):
    """`prefsmith ingest labels`: judgments made elsewhere, on answers already in the store."""

    score_field: str | None = Field(
        default=None, description="A score per answer (with --answer-field): score labels."
    )
    answer_field: str | None = Field(default=None, description="The scored answer's column.")
    by_ids: bool = Field(
        default=False, description="Answer fields hold prefsmith candidate ids, not texts."
    )
    add_texts: bool = Field(
        default=False, description="Add prompts and answers the store lacks (else rejects)."
    )


class CompletionIngestConfig(StrictModel):
    """`prefsmith ingest completions`: a prompt with N completions and optional ratings."""

    source: str = Field(description="File (JSONL, JSON array, Parquet, CSV), directory, or Hub id.")
    prompt_field: str | None = Field(default=None, description="Prompt column (text or messages).")
    completions_field: str | None = Field(
        default=None, description="Column of completions; none: each row is one completion."
    )
    text_field: str | None = Field(default=None, description="A completion's text key.")
    model_field: str | None = Field(default=None, description="A completion's model key.")
    reference_field: str | None = Field(default=None, description="Reference answer column.")
    ratings: list[str] = Field(
        default_factory=list,
        description="PATH[=NAME]: a dotted path in each completion to a score label from NAME "
        "(NAME:ASPECT for one aspect of NAME).",
    )
    split: str = Field(default="train", description="Hub split.")
    source_name: str | None = Field(default=None, description="Name stored as the source.")
    limit: int | None = Field(default=None, ge=1, description="Stop after N input rows.")
