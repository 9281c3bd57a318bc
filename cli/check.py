"""`prefsmith check contamination`: how much of a built dataset overlaps benchmark sets, without
building anything (the same n-grams `build ... --decontaminate` drops by)."""

from __future__ import annotations

from typing import Any

import typer
from pydantic import Field

from prefsmith.cli.common import common_parameters, emit, require_store, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.config import DatasetName, StrictModel

check_app = typer.Typer(help="Check a built dataset before you train on it.", no_args_is_help=True)


class ContaminationCheck(StrictModel):
    dataset: DatasetName = Field(description="A dataset built in the store (its name).")
    against: list[str] = Field(
        min_length=1,
        description="Benchmark sets: prompt sources in the store (mt-bench) or JSONL files "
        "(repeatable or a,b).",
    )
    ngram: int = Field(default=13, ge=3, description="Words per n-gram that counts as overlap.")


@check_app.command("contamination")
@with_parameters(option_parameters(ContaminationCheck) + common_parameters(store=True, json_=True))
@user_errors
def contamination(store: str, json_: bool, **values: Any) -> None:
    """Rows of a built dataset whose prompt or answers share an n-gram with a benchmark."""
    from prefsmith.builders.decontamination import check_dataset
    from prefsmith.store import Store

    settings = ContaminationCheck.model_validate(validate_options(ContaminationCheck, values))
    require_store(store)
    report = check_dataset(Store(store), settings.dataset, settings.against, settings.ngram)
    if not json_:
        top = dict(list(report["benchmark_ids"].items())[:10])
        report = {**report, "benchmark_ids": top or "none"}
    emit(report, json_, f"contamination of {settings.dataset}")
