"""The `prefsmith` command line.

Quick commands (`--help`, `status`) never import Prefect or torch: flow modules
are imported inside the commands that run them.
"""

from __future__ import annotations

from typing import Annotated

import typer

from prefsmith import __version__
from prefsmith.flows.cli_annotate import annotate_app
from prefsmith.flows.cli_build import build_app, export, prompt
from prefsmith.flows.cli_common import (
    JsonOption,
    StoreOption,
    emit,
    require_store,
    stdout,
    user_errors,
)
from prefsmith.flows.cli_ingest import ingest_app
from prefsmith.flows.cli_train import eval_app, train_app
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
report_app = typer.Typer(help="Reports over the store.", no_args_is_help=True)
app.add_typer(report_app, name="report")
app.add_typer(train_app, name="train")
app.add_typer(annotate_app, name="annotate")
app.add_typer(eval_app, name="eval")
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
) -> None:
    """Run every stage of a run config as one Prefect flow; reruns skip finished work."""
    from prefsmith.flows.pipeline import check_run
    from prefsmith.flows.run_summary import print_run_summary
    from prefsmith.flows.runner import run_flow
    from prefsmith.schemas.run_config import load_run_config

    check_run(load_run_config(config, store))  # fail in a second, before Prefect starts
    summary = run_flow("prefsmith.flows.pipeline:pipeline", config=config, store=store)
    if json_:
        emit(summary, True, "")
    else:
        print_run_summary(summary)


@app.command()
@user_errors
def label(
    labeler: Annotated[str, typer.Option(help="reward_model, yes_no, ...")],
    store: StoreOption = "prefsmith-store",
    name: Annotated[
        str | None, typer.Option(help="Name stored with the labels (default: the labeler).")
    ] = None,
    model: Annotated[str | None, typer.Option(help="Model: a Hub id or a local folder.")] = None,
    input_format: Annotated[
        str | None, typer.Option(help="reward_model: auto, pair, chat or hh.")
    ] = None,
    question: Annotated[
        list[str] | None, typer.Option(help="yes_no: a question (repeatable; 'not:' negates).")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="yes_no: a named question ensemble.")] = None,
    template: Annotated[
        str | None,
        typer.Option(help="yes_no: a template file ({response}, {question}, {context})."),
    ] = None,
    max_length: Annotated[
        int | None, typer.Option(help="Tokens per input (longer inputs are cut, answer kept).")
    ] = None,
    mode: Annotated[
        str | None,
        typer.Option(
            help="judge: pairwise, single, reference, reference-pairwise, logprob; "
            "pairrm: rank, compare, reference."
        ),
    ] = None,
    endpoint: Annotated[
        str | None, typer.Option(help="judge, critic: local or an OpenAI-compatible URL.")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="judge: tokens per judgment.")] = None,
    temperature: Annotated[float | None, typer.Option(help="judge: sampling temperature.")] = None,
    parse_retries: Annotated[
        int | None, typer.Option(help="judge: re-asks at temperature 0.")
    ] = None,
    max_concurrency: Annotated[int | None, typer.Option(help="judge: requests in flight.")] = None,
    structured: Annotated[
        str | None,
        typer.Option(help="judge, critic: auto, on or off: JSON output constrained by a schema."),
    ] = None,
    requests_per_minute: Annotated[
        float | None, typer.Option(help="judge: client-side request limit.")
    ] = None,
    tokens_per_minute: Annotated[
        float | None, typer.Option(help="judge: client-side token limit (prompt + max tokens).")
    ] = None,
    task: Annotated[
        str | None,
        typer.Option(help="critic: helpful-harmless, sentiment, detoxification, summarization."),
    ] = None,
    task_description: Annotated[
        str | None, typer.Option(help="critic: your own task description.")
    ] = None,
    with_label: Annotated[
        str | None, typer.Option(help="critic: show the critic this score labeler's value.")
    ] = None,
    batch_size: Annotated[int | None, typer.Option(help="Items per forward pass.")] = None,
    device: Annotated[str | None, typer.Option(help="auto, cpu or cuda.")] = None,
    dtype: Annotated[str | None, typer.Option(help="auto, float32, bfloat16 or float16.")] = None,
    limit: Annotated[int | None, typer.Option(help="Label at most N items this run.")] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Only candidates whose origin starts with this (repeatable): generate:"),
    ] = None,
    shards: Annotated[
        int, typer.Option(min=1, help="Split the items into N parts labeled in parallel.")
    ] = 1,
    task_runner: Annotated[
        str | None,
        typer.Option(
            envvar="PREFSMITH_TASK_RUNNER",
            help="Where the shards run: threads, dask, dask?workers=N, dask://HOST:PORT, "
            "ray, ray://HOST:PORT (docs/scale-out.md).",
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Label the store's candidates; items already labeled with the same fingerprint are skipped."""
    options = {
        k: v
        for k, v in locals().items()
        if k not in ("labeler", "store", "limit", "origin", "shards", "task_runner", "json_")
        and v is not None
    }
    if "question" in options:
        options["questions"] = options.pop("question")
    from prefsmith.flows.runner import run_flow
    from prefsmith.flows.task_runners import check_scale_out
    from prefsmith.labelers.base import build_labeler

    require_store(store)
    build_labeler(labeler, options)  # unknown labeler or option: one line, before Prefect starts
    check_scale_out(shards, task_runner)
    summary = run_flow(
        "prefsmith.flows.label:label",
        store=store,
        labeler=labeler,
        options=options,
        limit=limit,
        shards=shards,
        task_runner=task_runner,
        origins=origin,
    )
    emit(summary, json_, f"label {summary['labeler']} -> {store}")


@app.command()
@user_errors
def generate(
    store: StoreOption = "prefsmith-store",
    n: Annotated[int, typer.Option("--n", min=1, help="Candidates per prompt.")] = 2,
    endpoint: Annotated[
        str, typer.Option(help="local (bundled llama.cpp) or an OpenAI-compatible URL.")
    ] = "local",
    model: Annotated[
        str | None, typer.Option(help="Model name (remote) or GGUF file (local).")
    ] = None,
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 0.7,
    top_p: Annotated[float, typer.Option(help="Nucleus sampling.")] = 0.95,
    max_tokens: Annotated[int, typer.Option(help="Tokens per answer.")] = 256,
    seed: Annotated[int | None, typer.Option(help="Base seed; sample i uses seed + i.")] = 0,
    max_concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 4,
    timeout: Annotated[float, typer.Option(help="Seconds per request.")] = 120.0,
    requests_per_minute: Annotated[
        float | None, typer.Option(help="Client-side request limit.")
    ] = None,
    tokens_per_minute: Annotated[
        float | None, typer.Option(help="Client-side token limit (prompt + max tokens).")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="At most N samples this run.")] = None,
    source: Annotated[
        list[str] | None,
        typer.Option(help="Only prompts whose source starts with this (repeatable)."),
    ] = None,
    first_turn_only: Annotated[
        bool, typer.Option(help="Multi-turn prompts: answer the first turn only.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Generate candidates for the store's prompts; multi-turn prompts are answered turn by turn."""
    settings = {k: v for k, v in locals().items() if k not in ("json_", "source")}
    settings["sources"] = source
    from prefsmith.flows.runner import run_flow
    from prefsmith.labelers.endpoints import check_endpoint

    require_store(store)
    check_endpoint(endpoint, model)
    if n > 1 and not temperature:
        raise UserError(
            "--n > 1 at temperature 0 would give identical candidates; set --temperature"
        )
    summary = run_flow("prefsmith.flows.generate:generate", **settings)
    emit(summary, json_, f"generate -> {store}")


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

    from prefsmith.labelers.local_server import LocalServer

    with LocalServer(model, port) as server:
        stdout.print(server.base_url)
        stdout.print(f"model: {server.model_name}  (Ctrl-C to stop)", style="dim")
        while server.process is not None and server.process.poll() is None:
            time.sleep(1)
        raise UserError("the llama.cpp server stopped")


@report_app.command("agreement")
@user_errors
def report_agreement(store: StoreOption = "prefsmith-store", json_: JsonOption = False) -> None:
    """Agreement between every two labelers on the pairs both judged: n, agreement, Cohen's kappa."""
    from prefsmith.flows.report import agreement_report
    from prefsmith.flows.store import Store

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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
