"""`prefsmith ingest hh-rlhf|prompts`: load preference pairs or prompt sets into a store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from prefsmith.cli.common import JsonOption, StoreOption, emit, user_errors

SplitOption = Annotated[str, typer.Option(help="Hub split.")]
SourceNameOption = Annotated[str | None, typer.Option(help="Name stored as the prompts' source.")]
LimitOption = Annotated[int | None, typer.Option(help="Stop after N input rows.")]

ingest_app = typer.Typer(
    help="Load preference pairs or prompt sets into a store.", no_args_is_help=True
)


@ingest_app.command("hh-rlhf")
@user_errors
def ingest_hh_rlhf(
    source: Annotated[str, typer.Argument(help="File, directory, or Anthropic/hh-rlhf.")],
    store: StoreOption = "prefsmith-store",
    subset: Annotated[
        str | None, typer.Option(help="Hub data_dir: harmless-base, helpful-base, ...")
    ] = None,
    split: SplitOption = "train",
    allow_empty: Annotated[bool, typer.Option(help="Keep pairs with an empty answer.")] = False,
    source_name: SourceNameOption = None,
    limit: LimitOption = None,
    json_: JsonOption = False,
) -> None:
    """Ingest hh-rlhf pairs: prompt turns, chosen/rejected answers, the human label."""
    settings = {k: v for k, v in locals().items() if k not in ("store", "json_")}
    from prefsmith.ingest.hh_rlhf import check_hh_source

    _run(check_hh_source, "ingest_hh_rlhf", store, settings, json_)


@ingest_app.command("prompts")
@user_errors
def ingest_prompts(
    source: Annotated[str, typer.Argument(help="File, directory, or Hub dataset id.")],
    store: StoreOption = "prefsmith-store",
    format: Annotated[
        str, typer.Option(help="auto, jsonl, parquet, csv, mt-bench or messages.")
    ] = "auto",
    prompt_field: Annotated[
        str | None, typer.Option(help="Column holding the prompt text.")
    ] = None,
    messages_field: Annotated[
        str | None, typer.Option(help="Column holding chat messages.")
    ] = None,
    id_field: Annotated[str | None, typer.Option(help="Column holding a stable id.")] = None,
    references: Annotated[
        str | None, typer.Option(help="Reference answers, joined on the id field.")
    ] = None,
    split: SplitOption = "train",
    source_name: SourceNameOption = None,
    limit: LimitOption = None,
    json_: JsonOption = False,
) -> None:
    """Ingest a prompt set; MT-Bench follow-up turns are kept for multi-turn generation."""
    settings = {k: v for k, v in locals().items() if k not in ("store", "json_")}
    from prefsmith.ingest.prompt_sets import check_prompt_source

    _run(check_prompt_source, "ingest_prompts", store, settings, json_)


def _run(
    check: Callable[..., object], flow: str, store: str, settings: dict[str, Any], json_: bool
) -> None:
    from prefsmith.cli.runner import run_flow
    from prefsmith.store import Store

    check(**settings)  # fail in a second, before Prefect starts its API
    Store(store).ensure_writable()
    summary = run_flow(f"prefsmith.flows.ingest:{flow}", store=store, **settings)
    emit(summary, json_, f"{summary['command']} -> {store}")
