"""`prefsmith eval labelers`: each labeler against gold labels, with bootstrap intervals; the
options are the fields of `schemas.evaluations.LabelerEvalConfig`."""

from __future__ import annotations

from typing import Any

from prefsmith.cli.common import common_parameters, emit, require_store, stdout, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.evaluations import LabelerEvalConfig


@with_parameters(option_parameters(LabelerEvalConfig) + common_parameters(store=True, json_=True))
@user_errors
def eval_labelers(store: str, json_: bool, **values: Any) -> None:
    """Each labeler against gold labels: accuracy with a 95% interval, kappa, ties and
    inconsistent verdicts apart, length and position bias, calibration."""
    from prefsmith.report.labeler_eval import evaluate_labelers
    from prefsmith.store import Store

    config = LabelerEvalConfig.model_validate(validate_options(LabelerEvalConfig, values))
    if config.rewardbench is None:
        require_store(store)
    report = evaluate_labelers(
        Store(store), config.gold, config.labelers, config.by, config.seed, config.rewardbench
    )
    if json_:
        emit(report, True, "")
        return
    from rich.table import Table

    gold = config.gold or f"RewardBench file {config.rewardbench}"
    table = Table("labeler", "n", "accuracy (95% CI)", "kappa", "ties / inconsistent",
                  "prefers longer (gold)", "first position", "brier / ECE",
                  title=f"labelers against {gold} ({report['gold_pairs']} decided pairs)",
                  title_justify="left")  # fmt: skip
    for name, figures in report["labelers"].items():
        table.add_row(name, *_cells(figures))
        by = report.get("by", config.by)
        for group, inner in figures.get("groups", {}).items():
            table.add_row(f"  {by}={group}", *_cells(inner))
        for section, score in figures.get("sections", {}).items():
            table.add_row(f"  {section}", "", _number(score), "", "", "", "", "")
    stdout.print(table)


def _cells(f: dict[str, Any]) -> list[str]:
    if not f["n"]:
        return [
            "0",
            "no gold pair judged",
            "-",
            f"{f['ties']} / {f['inconsistent']}",
            "-",
            "-",
            "-",
        ]
    low, high = f["ci95"]
    return [
        str(f["n"]),
        f"{f['accuracy']:.3f} [{low:.3f}, {high:.3f}]",
        _number(f["kappa"]),
        f"{f['ties']} / {f['inconsistent']}",
        f"{_number(f['length_bias'])} ({_number(f['gold_length_bias'])})",
        _number(f.get("first_position_win_rate")),
        f"{_number(f.get('brier'))} / {_number(f.get('ece'))}",
    ]


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.3f}"
