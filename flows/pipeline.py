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

from prefect import flow, get_run_logger

from prefsmith.flows.annotate import annotate_pull, annotate_push
from prefsmith.flows.build import build
from prefsmith.flows.export import export_dataset
from prefsmith.flows.finetune import launch_evaluation, launch_training
from prefsmith.flows.generate import generate
from prefsmith.flows.ingest import ingest_hh_rlhf, ingest_prompts
from prefsmith.flows.label import label
from prefsmith.ingest.hh_rlhf import check_hh_source
from prefsmith.ingest.prompt_sets import check_prompt_source
from prefsmith.labelers.endpoints import check_endpoint
from prefsmith.labelers.models import check_weights
from prefsmith.labelers.registry import build_labeler, options_of
from prefsmith.runtime.task_runners import check_scale_out
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.run_config import RunConfig, load_run_config
from prefsmith.store import Store


def check_run(config: RunConfig) -> None:
    """Every source readable, every labeler option valid and the store writable, before
    any stage starts: a typo fails in a second, not after an hour of generation."""
    for hh in config.ingest.hh_rlhf:
        check_hh_source(**hh.model_dump())
    for prompts in config.ingest.prompts:
        check_prompt_source(**prompts.model_dump())
    if config.generate:
        check_endpoint(config.generate.endpoint, config.generate.model)
    trained_here = {str(Path(rm.train(config.store).output)) for rm in config.reward_models}
    for entry in config.label:
        if str(entry.options.get("model")) in trained_here:  # it doesn't exist yet
            options_of(entry.labeler, entry.options)
        else:
            build_labeler(entry.labeler, entry.options)
        check_scale_out(entry.shards, entry.task_runner)
    _check_prices(config)
    if config.self_reward:
        if config.self_reward.policy:
            check_weights(config.self_reward.policy)
        template = config.self_reward.judge_template
        if template and not Path(template).is_file():
            raise UserError(f"self_reward.judge_template: no such file {template}")
    Store(config.store).ensure_writable()
    built = set(config.datasets())
    needed = [("export", e.dataset) for e in config.export]
    needed += [("train", t.dataset) for t in config.train]
    needed += [("evaluate", e.dataset) for e in config.evaluate]
    for stage, name in needed:
        if name not in built and not (Path(config.store) / "datasets" / name).is_dir():
            raise UserError(
                f"{stage}: dataset {name!r} is neither built by this run nor in {config.store}"
            )


def _check_prices(config: RunConfig) -> None:
    """A budget needs a price for every paid stage it covers: an unlisted model is named now."""
    from prefsmith.labelers.budget import Budget

    paid = []
    if config.generate and (config.max_cost is not None or config.generate.max_cost is not None):
        paid.append(("generate", config.generate.model_dump()))
    for entry in config.label:
        if entry.max_cost is not None and not _is_paid(entry.labeler):
            raise UserError(f"label {entry.labeler}: max_cost, but it calls no paid endpoint")
        if _is_paid(entry.labeler) and (config.max_cost is not None or entry.max_cost is not None):
            paid.append((f"label {entry.labeler}", options_of(entry.labeler, entry.options)))
    for stage, o in paid:
        o = o if isinstance(o, dict) else o.model_dump()
        try:
            Budget.for_endpoint(0.0, o["endpoint"], o.get("model"), o.get("pricing"), False)
        except UserError as error:
            raise UserError(f"{stage}: {error}") from None


def _log(stage: str, summary: dict[str, Any]) -> dict[str, Any]:
    summary = {"stage": stage, **summary}
    shown = {
        k: v
        for k, v in summary.items()
        if isinstance(v, int | float | str) and k not in ("stage", "command")
    }
    get_run_logger().info("%s: %s", stage, ", ".join(f"{k}={v}" for k, v in shown.items()))
    return summary


class RunBudget:
    """The run-wide `max_cost`: each paid stage may spend what is left of it (or its own
    `max_cost`, if lower); a stage stopped by a budget stops the run."""

    def __init__(self, max_usd: float | None) -> None:
        self.max_usd, self.spent, self.stopped = max_usd, 0.0, False

    def cap(self, own: float | None) -> float | None:
        if self.max_usd is None:
            return own
        left = max(self.max_usd - self.spent, 0.0)
        return left if own is None else min(own, left)

    def record(self, summary: dict[str, Any]) -> dict[str, Any]:
        self.spent += summary.get("spent_usd", summary.get("cost_usd")) or 0.0
        if summary.get("stopped") == "budget":
            self.stopped = True
        return summary


def _ingest(run: RunConfig, spend: RunBudget) -> list[dict[str, Any]]:
    store = run.store
    stages = [_log("ingest", ingest_hh_rlhf(store=store, config=hh)) for hh in run.ingest.hh_rlhf]
    stages += [_log("ingest", ingest_prompts(store=store, config=p)) for p in run.ingest.prompts]
    if run.generate:
        config = run.generate.model_copy(update={"max_cost": spend.cap(run.generate.max_cost)})
        stages.append(spend.record(_log("generate", generate(store=store, config=config))))
    return stages


def _label(run: RunConfig, spend: RunBudget) -> list[dict[str, Any]]:
    store, stages = run.store, []
    for rm in run.reward_models:
        stages.append(_log("build", build(store, "preference", rm.build())))
        stages.append(_log("reward model", launch_training(store, rm.train(store))))
    for entry in run.label:
        if spend.stopped:
            return stages
        if _is_paid(entry.labeler):
            entry = entry.model_copy(update={"max_cost": spend.cap(entry.max_cost)})
        stages.append(spend.record(_log("label", label(store=store, config=entry))))
    if run.annotate and run.annotate.push:
        stages.append(_log("annotate", annotate_push(store=store, config=run.annotate.push)))
    for project in run.annotate.pull if run.annotate else []:
        stages.append(_log("annotate", annotate_pull(store=store, project=project)))
    for entry in run.eval_labelers:
        stages.append(_log("eval labelers", _eval_labelers(store, entry)))
    return stages


def _is_paid(labeler: str) -> bool:
    """Whether the labeler calls an endpoint that may charge (and so takes a budget)."""
    from prefsmith.labelers.chat_labeler import ChatLabeler
    from prefsmith.labelers.registry import REGISTRY

    return labeler in REGISTRY and issubclass(REGISTRY[labeler], ChatLabeler)


def _eval_labelers(store: str, entry: Any) -> dict[str, Any]:
    """Each labeler against the gold: a quick read of the store, no model runs."""
    from prefsmith.report.labeler_eval import evaluate_labelers

    started = time.perf_counter()
    report = evaluate_labelers(
        Store(store), entry.gold, entry.labelers, entry.by, entry.seed, entry.rewardbench
    )
    return {
        "command": "eval labelers",
        **report,
        "seconds": round(time.perf_counter() - started, 3),
    }


def _build_and_train(run: RunConfig) -> list[dict[str, Any]]:
    store = run.store
    stages = [
        _log("build", build(store, kind, settings.model_dump(exclude_unset=True)))
        for kind, settings in run.build.entries()
    ]
    stages += [_log("export", export_dataset(store=store, config=e)) for e in run.export]
    stages += [_log("train", launch_training(store, t)) for t in run.train]
    stages += [_log("evaluate", launch_evaluation(store, e)) for e in run.evaluate]
    if run.self_reward:
        from prefsmith.flows.self_reward import self_reward

        stages.append(_log("self-reward", self_reward(store=store, config=run.self_reward)))
    return stages


def run_costs(stages: list[dict[str, Any]]) -> dict[str, Any]:
    """What the run's paid requests cost: in all, and by labeler; a stage whose model has no
    price is named, not guessed."""
    priced = [s for s in stages if "cost_usd" in s]
    unknown = [s.get("labeler") or s["stage"] for s in priced if s["cost_usd"] is None]
    by_labeler: dict[str, float] = {}
    for stage in priced:
        if stage.get("labeler") and stage["cost_usd"] is not None:
            by_labeler[stage["labeler"]] = by_labeler.get(stage["labeler"], 0) + stage["cost_usd"]
    costs = {
        "cost_usd": round(sum(s["cost_usd"] or 0 for s in priced), 9),
        "cost_usd_by_labeler": by_labeler,
    }
    return {**costs, "cost_unknown": unknown} if unknown else costs


TOTALS = ("requests", "input_tokens", "max_output_tokens", "cost_usd_min", "cost_usd_max")


def plan_run(run: RunConfig) -> dict[str, Any]:
    """`prefsmith run CONFIG --dry-run`: the plan of every paid stage (generate, judge and
    critic entries) and their sum, counted against what the store holds now. Nothing is sent
    and nothing is written."""
    from prefsmith.flows.generate import plan_generate
    from prefsmith.labelers.dry_run import plan_labeling

    store = Store(run.store)
    stages = []
    if run.generate:
        stages.append({"stage": "generate", **plan_generate(store, run.generate)})
    for entry in run.label:
        if _is_paid(entry.labeler):
            labeler = build_labeler(entry.labeler, entry.options)
            plan = plan_labeling(
                store,
                labeler,
                limit=entry.limit,
                origins=entry.origins,
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
