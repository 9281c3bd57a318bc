"""`prefsmith batches status|collect`: the store's Batch API submissions."""

from __future__ import annotations

from typing import Any

import typer

from prefsmith.cli.common import common_parameters, emit, require_store, user_errors
from prefsmith.cli.model_options import with_parameters

batches_app = typer.Typer(
    help="Batch API submissions (label/generate --batch): status, collect.", no_args_is_help=True
)


@batches_app.command("status")
@with_parameters(common_parameters(store=True, json_=True))
@user_errors
def status(store: str, json_: bool) -> None:
    """Poll the store's batches and show each submission's state."""
    from prefsmith.runs.batches import batch_status

    require_store(store)
    summary = batch_status(store)
    rows = [(row, f"{row['submission']} ({row['job']})") for row in summary["submissions"]]
    _emit_all(summary, rows, json_)


@batches_app.command("collect")
@with_parameters(common_parameters(store=True, json_=True))
@user_errors
def collect(store: str, json_: bool) -> None:
    """Download ended batches and write their labels or candidates (as the next run would)."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import batches as batches_flows

    require_store(store)
    with flow_session() as session:
        summary = session.result(batches_flows.collect_batches(store=store, return_state=True))
    rows = [(run, f"{run['command']} (from batches) -> {store}") for run in summary["runs"]]
    _emit_all(summary, rows, json_)


def _emit_all(summary: dict[str, Any], rows: list[tuple[dict, str]], json_: bool) -> None:
    """The summary as one JSON line, or a table per row and the requests still waiting."""
    if json_:
        emit(summary, True, "")
        return
    for row, title in rows:
        emit(row, False, title)
    typer.echo(f"requests in flight: {summary['requests_in_flight']}")
