"""The `prefsmith` command line.

Quick commands (`--help`, `status`) never import Prefect or torch: flow modules
are imported inside the commands that run them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from prefsmith import __version__
from prefsmith.flows.cli_build import build_app, export, prompt
from prefsmith.flows.cli_common import JsonOption, StoreOption, emit, stdout, user_errors
from prefsmith.flows.cli_ingest import ingest_app
from prefsmith.schemas.errors import UserError

app = typer.Typer(
    name="prefsmith",
    help="Offline labeling and dataset building for preference (RLHF) data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(build_app, name="build")
app.command()(prompt)
app.command()(export)


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
    from prefsmith.flows.store import Store

    if not Path(store).is_dir():
        raise UserError(f"no store at {store} (run `prefsmith ingest ...` first)")
    emit(Store(store).summary(), json_, f"store {store}")


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
