"""`prefsmith ingest hh-rlhf|prompts`: load preference pairs or prompt sets into a store.

The options are the fields of `HHIngestConfig` / `PromptIngestConfig` (the run config's
`ingest:` entries); `SOURCE` is the positional argument.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from prefsmith.cli.common import common_parameters, emit, require_store, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.config import HHIngestConfig, PromptIngestConfig
from prefsmith.schemas.preference_ingest import (
    CompletionIngestConfig,
    LabelIngestConfig,
    PairIngestConfig,
)

ingest_app = typer.Typer(
    help="Load preference pairs or prompt sets into a store.", no_args_is_help=True
)


def _parameters(model: type) -> list:
    return option_parameters(model, arguments=("source",)) + common_parameters(
        store=True, json_=True
    )


@ingest_app.command("hh-rlhf")
@with_parameters(_parameters(HHIngestConfig))
@user_errors
def ingest_hh_rlhf(store: str, json_: bool, **values: Any) -> None:
    """Ingest hh-rlhf pairs: prompt turns, chosen/rejected answers, the human label."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import ingest as ingest_flows
    from prefsmith.ingest.hh_rlhf import check_hh_source

    settings = validate_options(HHIngestConfig, values)
    check_hh_source(**settings)  # fail in a second, before Prefect starts its API
    with removed_if_new(store), flow_session() as session:
        summary = session.result(
            ingest_flows.ingest_hh_rlhf(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"{summary['command']} -> {store}")


@ingest_app.command("prompts")
@with_parameters(_parameters(PromptIngestConfig))
@user_errors
def ingest_prompts(store: str, json_: bool, **values: Any) -> None:
    """Ingest a prompt set; MT-Bench follow-up turns are kept for multi-turn generation."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import ingest as ingest_flows
    from prefsmith.ingest.prompt_sets import check_prompt_source

    settings = validate_options(PromptIngestConfig, values)
    check_prompt_source(**settings)
    with removed_if_new(store), flow_session() as session:
        summary = session.result(
            ingest_flows.ingest_prompts(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"{summary['command']} -> {store}")


@ingest_app.command("pairs")
@with_parameters(_parameters(PairIngestConfig))
@user_errors
def ingest_pairs(store: str, json_: bool, **values: Any) -> None:
    """Ingest judged pairs or rankings (chosen/rejected, two answers and a winner, answers
    best first): prompts, answers and a label per row from --labeler. Known layouts (Arena,
    HelpSteer3, PKU-SafeRLHF, LLMBar, JudgeBench, RewardBench, Nectar) need no field flags."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import ingest as ingest_flows
    from prefsmith.ingest.judged_sources import check_pairs

    settings = validate_options(PairIngestConfig, values)
    check_pairs(**settings)
    with removed_if_new(store), flow_session() as session:
        summary = session.result(
            ingest_flows.ingest_pairs(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"{summary['command']} -> {store}")


@ingest_app.command("labels")
@with_parameters(_parameters(LabelIngestConfig))
@user_errors
def ingest_labels(store: str, json_: bool, **values: Any) -> None:
    """Ingest judgments made elsewhere on answers in the store, named by their texts (or
    ids): the same field flags as `ingest pairs`; texts the store lacks are rejects unless
    --add-texts."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import ingest as ingest_flows
    from prefsmith.ingest.judged_sources import check_labels

    settings = validate_options(LabelIngestConfig, values)
    check_labels(**settings)
    if not settings.get("add_texts"):
        require_store(store)
    with removed_if_new(store), flow_session() as session:
        summary = session.result(
            ingest_flows.ingest_labels(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"{summary['command']} -> {store}")


@ingest_app.command("completions")
@with_parameters(_parameters(CompletionIngestConfig))
@user_errors
def ingest_completions(store: str, json_: bool, **values: Any) -> None:
    """Ingest prompts with N completions and their ratings (score labels). UltraFeedback's
    raw rows and HelpSteer2's flat rows need no field flags."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import ingest as ingest_flows
    from prefsmith.ingest.judged_sources import check_completions

    settings = validate_options(CompletionIngestConfig, values)
    check_completions(**settings)
    with removed_if_new(store), flow_session() as session:
        summary = session.result(
            ingest_flows.ingest_completions(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"{summary['command']} -> {store}")


@contextmanager
def removed_if_new(store: str) -> Iterator[None]:
    """A store that a failed first ingest would leave empty is removed again."""
    from prefsmith.store import Store

    new_store = not Path(store).exists()
    try:
        Store(store).ensure_writable()
        yield
    except BaseException:
        if new_store:
            shutil.rmtree(store, ignore_errors=True)
        raise
