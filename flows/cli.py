"""The `prefsmith` command line.

Quick commands (`--help`, `status`) never import Prefect or torch: flow modules
are imported inside the commands that run them.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from prefsmith import __version__
from prefsmith.schemas.errors import UserError

app = typer.Typer(
    name="prefsmith",
    help="Offline labeling and dataset building for preference (RLHF) data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
ingest_app = typer.Typer(
    help="Load preference pairs or prompt sets into a store.", no_args_is_help=True
)
app.add_typer(ingest_app, name="ingest")

stdout = Console()
errors = Console(stderr=True)

StoreOption = Annotated[
    str, typer.Option("--store", envvar="PREFSMITH_STORE", help="Store directory.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON line instead of tables.")]
F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int) -> typer.Exit:
    errors.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(code)


def user_errors(command: F) -> F:
    """One `error: ...` line instead of a traceback: exit 2 for a user mistake, 1 for the
    machine (permission denied, disk full), 130 for Ctrl-C (what was written stays)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise fail(str(error), 2) from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise fail(f"{error.strerror or error}{where}", 1) from None
        except KeyboardInterrupt:
            raise fail(
                "interrupted; rerun the same command to finish (nothing is lost)", 130
            ) from None

    return wrapper  # type: ignore[return-value]


def emit(summary: dict[str, Any], as_json: bool, title: str) -> None:
    """Print a command's summary: one JSON line, or a readable table."""
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        table.add_row(key.replace("_", " "), str(value))
    stdout.print(table)


def version_callback(value: bool) -> None:
    if value:
        stdout.print(f"prefsmith {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=version_callback, is_eager=True)
    ] = False,
) -> None:
    """Offline labeling and dataset building for preference (RLHF) data."""


@app.command()
@user_errors
def status(store: StoreOption = "prefsmith-store", json_: JsonOption = False) -> None:
    """Row counts per table, rejects by reason, labels by labeler."""
    from pathlib import Path

    from prefsmith.flows.store import Store

    if not Path(store).is_dir():
        raise UserError(f"no store at {store} (run `prefsmith ingest ...` first)")
    emit(Store(store).summary(), json_, f"store {store}")


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


@app.command()
@user_errors
def run(
    config: Annotated[str, typer.Argument(help="Run config (YAML), e.g. configs/quickstart.yaml.")],
    store: Annotated[
        str | None,
        typer.Option(
            "--store", envvar="PREFSMITH_STORE", help="Store directory (overrides the config's)."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Run every stage of a run config as one Prefect flow; reruns skip finished work."""
    from prefsmith.flows.pipeline import check_run
    from prefsmith.flows.runner import run_flow
    from prefsmith.schemas.config import load_run_config

    settings = load_run_config(config)
    check_run(settings, store or settings.store)  # fail in a second, before Prefect starts
    summary = run_flow("prefsmith.flows.pipeline:pipeline", config=config, store=store)
    if json_:
        emit(summary, True, "")
        return
    for stage in summary.pop("stages"):
        emit(stage, False, stage["command"])
    emit(summary, False, f"run {config}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
