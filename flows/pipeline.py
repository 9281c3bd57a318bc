"""The pipeline flow: every stage of a run config, as subflows of one flow run.

    prefsmith run configs/quickstart.yaml [--store DIR]

ingest -> generate -> reward_models -> label -> annotate -> eval_labelers -> build -> export
-> train -> evaluate -> self_reward -> report. Each stage is optional and skips what the store
already holds (labels by fingerprint, candidates by generator, trained models by the
hash of their dataset and settings), so a rerun (scheduled, or after a crash) does
only the missing work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from prefsmith.flows.annotate import annotate_pull, annotate_push
from prefsmith.flows.build import build
from prefsmith.flows.export import export_dataset
from prefsmith.flows.finetune import evaluate_stage, train_stage
from prefsmith.flows.generate import generate
from prefsmith.flows.ingest import (
    ingest_completions,
    ingest_hh_rlhf,
    ingest_labels,
    ingest_pairs,
    ingest_prompts,
)
from prefsmith.flows.label import label
from prefsmith.runs.costs import RunBudget, run_costs
from prefsmith.runs.preflight import check_run, is_paid
from prefsmith.schemas.evaluations import LabelerEvalConfig
from prefsmith.schemas.run_config import RunConfig, load_run_config
from prefsmith.store import Store


def _log(stage: str, summary: dict[str, Any]) -> dict[str, Any]:
    summary = {"stage": stage, **summary}
    shown = {
        k: v
        for k, v in summary.items()
        if isinstance(v, int | float | str) and k not in ("stage", "command")
    }
    get_run_logger().info("%s: %s", stage, ", ".join(f"{k}={v}" for k, v in shown.items()))
    return summary


def _ingest(run: RunConfig, spend: RunBudget) -> list[dict[str, Any]]:
    store = run.store
    stages = [_log("ingest", ingest_hh_rlhf(store=store, config=hh)) for hh in run.ingest.hh_rlhf]
    stages += [_log("ingest", ingest_prompts(store=store, config=p)) for p in run.ingest.prompts]
    stages += [_log("ingest", ingest_pairs(store=store, config=p)) for p in run.ingest.pairs]
    stages += [
        _log("ingest", ingest_completions(store=store, config=c)) for c in run.ingest.completions
    ]
    stages += [_log("ingest", ingest_labels(store=store, config=lab)) for lab in run.ingest.labels]
    if run.generate:
        config = run.generate.model_copy(update={"max_cost": spend.cap(run.generate.max_cost)})
        stages.append(spend.record(_log("generate", generate(store=store, config=config))))
    return stages


def _label(run: RunConfig, spend: RunBudget) -> list[dict[str, Any]]:
    store, stages = run.store, []
    for rm in run.reward_models:
        stages.append(_log("build", build(store, "preference", rm.build())))
        stages.append(_log("reward model", train_stage(store, rm.train(store))))
    for entry in run.label:
        if spend.stopped:
            return stages
        if is_paid(entry.labeler):
            entry = entry.model_copy(update={"max_cost": spend.cap(entry.max_cost)})
        stages.append(spend.record(_log("label", label(store=store, config=entry))))
    if run.annotate and run.annotate.push:
        stages.append(_log("annotate", annotate_push(store=store, config=run.annotate.push)))
    for project in run.annotate.pull if run.annotate else []:
        stages.append(_log("annotate", annotate_pull(store=store, project=project)))
    for entry in run.eval_labelers:
        stages.append(_log("eval labelers", evaluate_labelers(store, entry)))
    return stages


@task(name="evaluate_labelers", cache_policy=NONE, persist_result=False)
def evaluate_labelers(store: str, entry: LabelerEvalConfig) -> dict[str, Any]:
    """Each labeler against the gold: a quick read of the store, no model runs."""
    from prefsmith.report.labeler_eval import labeler_eval_summary

    return labeler_eval_summary(Store(store), entry)


def _build_and_train(run: RunConfig) -> list[dict[str, Any]]:
    store = run.store
    stages = [
        _log("build", build(store, kind, settings.model_dump(exclude_unset=True)))
        for kind, settings in run.build.entries()
    ]
    stages += [_log("export", export_dataset(store=store, config=e)) for e in run.export]
    stages += [_log("train", train_stage(store, t)) for t in run.train]
    stages += [_log("evaluate", evaluate_stage(store, e)) for e in run.evaluate]
    if run.self_reward:
        from prefsmith.flows.self_reward import self_reward

        stages.append(_log("self-reward", self_reward(store=store, config=run.self_reward)))
    return stages


@flow(name="pipeline")
def pipeline(config: str, store: str | None = None) -> dict[str, Any]:
    """Run the stages of the YAML run config at `config`; `store` overrides its store.

    Returns the run summary: every stage's summary, the store's counts, the datasets
    built, the report's path and the wall time."""
    started = time.perf_counter()
    run = load_run_config(config, store)
    check_run(run)
    spend = RunBudget(run.max_cost)
    stages = _ingest(run, spend)
    if not spend.stopped:
        stages += _label(run, spend)
    if not spend.stopped:
        stages += _build_and_train(run)
    else:
        get_run_logger().warning("the run stopped at its budget: rerun with a larger one to go on")
    summary: dict[str, Any] = {
        "command": "run",
        "config": config,
        "store": run.store,
        **({"stopped": "budget"} if spend.stopped else {}),
        "stages": stages,
        "datasets": [str(Path(run.store) / "datasets" / name) for name in run.datasets()],
        **run_costs(stages),
        **Store(run.store).summary(),
    }
    if run.report.enabled:
        from prefsmith.report.run_report import write_run_report

        output = Path(run.report.output or Path(run.store) / "report")
        summary["seconds"] = round(time.perf_counter() - started, 3)
        summary["report"] = str(write_run_report(run, summary, output) / "report.md")
    summary["seconds"] = round(time.perf_counter() - started, 3)
    return summary
