"""`prefsmith run CONFIG --dry-run`: what a run's paid stages would ask, counted against
what the store holds now. Nothing is sent, nothing is written, Prefect is not imported."""

from __future__ import annotations

from typing import Any

from prefsmith.generation.stage import plan_generate
from prefsmith.labelers.dry_run import plan_labeling
from prefsmith.labelers.registry import build_labeler
from prefsmith.runs.preflight import is_paid
from prefsmith.schemas.run_config import RunConfig
from prefsmith.store import Store

TOTALS = ("requests", "input_tokens", "max_output_tokens", "cost_usd_min", "cost_usd_max")


def plan_run(run: RunConfig) -> dict[str, Any]:
    """The plan of every paid stage (generate, judge and critic entries) and their sum."""
    store = Store(run.store)
    stages = []
    if run.generate:
        stages.append({"stage": "generate", **plan_generate(store, run.generate)})
    for entry in run.label:
        if is_paid(entry.labeler):
            labeler = build_labeler(entry.labeler, entry.options)
            plan = plan_labeling(
                store,
                labeler,
                limit=entry.limit,
                origins=entry.origins,
                sample=entry.sample,
                retry_errors=entry.retry_errors,
            )
            stages.append({"stage": "label", **plan})
    totals: dict[str, Any] = {}
    for key in TOTALS:
        values = [stage[key] for stage in stages]
        totals[key] = None if None in values else round(sum(values), 9)
    return {
        "command": "run",
        "dry_run": True,
        **totals,
        "max_cost": run.max_cost,
        "stages": stages,
        "note": "counted against what the store holds now; stages that an earlier stage of "
        "this run feeds will have more to do",
    }
