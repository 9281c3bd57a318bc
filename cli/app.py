"""The `prefsmith` command line.

Quick commands (`--help`, `status`) never import Prefect or torch: flow modules
are imported inside the commands that run them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from prefsmith import __version__
from prefsmith.cli.annotate import annotate_app
from prefsmith.cli.batches import batches_app
from prefsmith.cli.build import build_app, export, prompt
from prefsmith.cli.check import check_app
from prefsmith.cli.common import (
    JsonOption,
    StoreOption,
    emit,
    require_store,
    stdout,
    user_errors,
)
from prefsmith.cli.ingest import ingest_app
from prefsmith.cli.label import generate, label
from prefsmith.cli.prefect_server import prefect_app
from prefsmith.cli.self_reward import self_reward
from prefsmith.cli.store import store_app
from prefsmith.cli.train import eval_app, train_app
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import DEFAULT_STORE

app = typer.Typer(
    name="prefsmith",
    help="Offline labeling and dataset building for preference (RLHF) data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(build_app, name="build")
report_app = typer.Typer(help="Reports over the store.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(train_app, name="train")
app.add_typer(annotate_app, name="annotate")
app.add_typer(eval_app, name="eval")
app.add_typer(prefect_app, name="prefect")
app.add_typer(check_app, name="check")
app.add_typer(batches_app, name="batches")
app.add_typer(store_app, name="store")
app.command()(label)
app.command()(generate)
app.command()(prompt)
app.command()(export)
app.command("self-reward")(self_reward)


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
def status(store: StoreOption = DEFAULT_STORE, json_: JsonOption = False) -> None:
    """Row counts per table, rejects by reason, labels by labeler."""
    from prefsmith.store import Store

    require_store(store)
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
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Print the paid stages' requests, tokens and cost range; send nothing.",
        ),
    ] = False,
) -> None:
    """Run every stage of a run config as one Prefect flow; reruns skip finished work."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.cli.summary import print_run_summary
    from prefsmith.runs.preflight import check_run
    from prefsmith.schemas.run_config import load_run_config

    loaded = load_run_config(config, store)
    check_run(loaded)  # fail in a second, before Prefect starts
    if dry_run:
        from prefsmith.runs.plan import plan_run

        plan = plan_run(loaded)
        if json_:
            emit(plan, True, "")
            return
        for stage in plan.pop("stages"):
            emit(stage, False, f"{stage['stage']} --dry-run")
        emit(plan, False, f"run {config} --dry-run: nothing sent")
        return
    from prefsmith.flows import pipeline as pipeline_flows

    with flow_session() as session:
        summary = session.result(
            pipeline_flows.pipeline(config=config, store=store, return_state=True)
        )
    if json_:
        emit(summary, True, "")
    else:
        print_run_summary(summary)


@app.command()
@user_errors
def serve(
    model: Annotated[
        str | None, typer.Option(help="A GGUF file (default: the bundled SmolLM2).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port on 127.0.0.1 (default: a free one).")
    ] = None,
) -> None:
    """Serve a GGUF model as an OpenAI-compatible API on 127.0.0.1 until interrupted."""
    import time

    from prefsmith.endpoints.local_server import LocalServer

    with LocalServer(model, port) as server:
        stdout.print(server.base_url)
        stdout.print(f"model: {server.model_name}  (Ctrl-C to stop)", style="dim")
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
        raise UserError("the llama.cpp server stopped")


@report_app.command("agreement")
@user_errors
def report_agreement(store: StoreOption = DEFAULT_STORE, json_: JsonOption = False) -> None:
    """Agreement between every two labelers on the pairs both judged: n, agreement, Cohen's kappa."""
    from prefsmith.report.agreement import agreement_report
    from prefsmith.store import Store

    require_store(store)
    report = agreement_report(Store(store))
    if json_:
        emit({k: v for k, v in report.items() if k != "labelers"}, True, "")
        return
    from rich.table import Table

    table = Table(
        "labelers",
        "n",
        "agreement",
        "Cohen's kappa",
        title=f"agreement in {store}",
        title_justify="left",
    )
    for pair, cell in report["pairs"].items():
        table.add_row(pair, str(cell["n"]), str(cell["agreement"]), str(cell["kappa"]))
    if not report["pairs"]:
        table.add_row("no two labelers judged the same pairs", "-", "-", "-")
    stdout.print(table)
    if "annotators" in report:
        emit(report["annotators"], False, "agreement between Label Studio annotators")


def _one_line_warnings() -> None:
    """A library's warning is one line in the log (`FutureWarning: ...`), not a source dump."""
    import warnings

    def short(message, category, filename, lineno, line=None) -> str:
        return f"{category.__name__}: {message}\n"

    warnings.formatwarning = short


def main() -> None:
    """The `prefsmith` console script: Prefect's defaults are set here, where flows start."""
    from prefsmith.runtime.prefect_env import configure_prefect

    _one_line_warnings()
    configure_prefect()
    app()


if __name__ == "__main__":
    main()
