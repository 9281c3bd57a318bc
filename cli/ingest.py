"""`prefsmith ingest hh-rlhf|prompts`: load preference pairs or prompt sets into a store.

The options are the fields of `HHIngestConfig` / `PromptIngestConfig` (the run config's
`ingest:` entries); `SOURCE` is the positional argument.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from prefsmith.cli.common import common_parameters, emit, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.config import HHIngestConfig, PromptIngestConfig

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
    from prefsmith.flows.ingest import ingest_hh_rlhf as ingest_hh_rlhf_flow
    from prefsmith.ingest.hh_rlhf import check_hh_source

    settings = validate_options(HHIngestConfig, values)
    _run(check_hh_source, ingest_hh_rlhf_flow, store, settings, json_)


@ingest_app.command("prompts")
@with_parameters(_parameters(PromptIngestConfig))
@user_errors
def ingest_prompts(store: str, json_: bool, **values: Any) -> None:
    """Ingest a prompt set; MT-Bench follow-up turns are kept for multi-turn generation."""
    from prefsmith.flows.ingest import ingest_prompts as ingest_prompts_flow
    from prefsmith.ingest.prompt_sets import check_prompt_source

    settings = validate_options(PromptIngestConfig, values)
    _run(check_prompt_source, ingest_prompts_flow, store, settings, json_)


def _run(
    check: Callable[..., object], flow: Any, store: str, settings: dict[str, Any], json_: bool
) -> None:
    from prefsmith.cli.runner import run_flow
    from prefsmith.store import Store

    check(**settings)  # fail in a second, before Prefect starts its API
    new_store = not Path(store).exists()
    try:
        Store(store).ensure_writable()
        summary = run_flow(flow, store=store, config=settings)
    except BaseException:
        if new_store:  # a failed first ingest leaves no empty store behind
            shutil.rmtree(store, ignore_errors=True)
        raise
    emit(summary, json_, f"{summary['command']} -> {store}")
