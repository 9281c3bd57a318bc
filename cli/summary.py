"""The final summary table of `prefsmith run`: one row per stage, then where things are."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from prefsmith.cli.common import stdout
from prefsmith.report.run_report import describe_stage


def print_run_summary(summary: dict[str, Any]) -> None:
    """Stage | what it did | seconds, then the store's counts, the datasets and the report."""
    table = Table(title=f"run {summary['config']}", title_justify="left")
    table.add_column("stage", style="bold")
    table.add_column("result")
    table.add_column("seconds", justify="right")
    for stage in summary["stages"]:
        seconds = stage.get("seconds")
        table.add_row(
            stage.get("stage", stage.get("command", "")),
            describe_stage(stage),
            f"{seconds:.1f}" if isinstance(seconds, int | float) else "",
        )
    table.add_row("total", "", f"{summary['seconds']:.1f}", style="bold")
    stdout.print(table)
    counts = ", ".join(f"{k} {v}" for k, v in summary["tables"].items())
    stdout.print(f"store {summary['store']}: {counts}")
    for dataset in summary.get("datasets", []):
        stdout.print(f"dataset {dataset}")
    if summary.get("report"):
        stdout.print(f"report {summary['report']} (and report.html beside it)")
