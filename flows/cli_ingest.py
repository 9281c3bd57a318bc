"""`prefsmith ingest hh-rlhf|prompts`: load preference pairs or prompt sets into a store."""

from __future__ import annotations

from typing import Annotated

import typer

from prefsmith.flows.cli_common import JsonOption, StoreOption, emit, user_errors

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
    split: Annotated[str, typer.Option(help="Hub split.")] = "train",
    allow_empty: Annotated[bool, typer.Option(help="Keep pairs with an empty answer.")] = False,
    source_name: Annotated[
        str | None, typer.Option(help="Name stored as the prompts' source.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after N input rows.")] = None,
    json_: JsonOption = False,
) -> None:
    """Ingest hh-rlhf pairs: prompt turns, chosen/rejected answers, the human label."""
    from prefsmith.flows.hh_ingest import check_hh_source
    from prefsmith.flows.runner import run_flow
    from prefsmith.flows.store import Store

    settings = dict(
        source=source,
        subset=subset,
        split=split,
        allow_empty=allow_empty,
        source_name=source_name,
        limit=limit,
    )
    check_hh_source(**settings)  # fail in a second, before Prefect starts its API
    Store(store).ensure_writable()
    summary = run_flow("prefsmith.flows.ingest:ingest_hh_rlhf", store=store, **settings)
    emit(summary, json_, f"ingest hh-rlhf -> {store}")


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
    split: Annotated[str, typer.Option(help="Hub split.")] = "train",
    source_name: Annotated[
        str | None, typer.Option(help="Name stored as the prompts' source.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Stop after N input rows.")] = None,
    json_: JsonOption = False,
) -> None:
    """Ingest a prompt set; MT-Bench follow-up turns are kept for multi-turn generation."""
    from prefsmith.flows.prompt_ingest import check_prompt_source
    from prefsmith.flows.runner import run_flow
    from prefsmith.flows.store import Store

    settings = dict(
        source=source,
        format=format,
        prompt_field=prompt_field,
        messages_field=messages_field,
        id_field=id_field,
        references=references,
        split=split,
        source_name=source_name,
        limit=limit,
    )
    check_prompt_source(**settings)  # fail in a second, before Prefect starts its API
    Store(store).ensure_writable()
    summary = run_flow("prefsmith.flows.ingest:ingest_prompts", store=store, **settings)
    emit(summary, json_, f"ingest prompts -> {store}")
