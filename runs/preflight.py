"""Checks a run config passes before any stage starts: a typo fails in a second, with one
line, not after an hour of generation (the CLI runs them before Prefect starts; the
pipeline flow runs them again, since a deployment calls it directly)."""

from __future__ import annotations

from pathlib import Path

from prefsmith.endpoints.budget import Budget
from prefsmith.endpoints.weights import check_weights
from prefsmith.finetune.registry import EVALUATIONS, trainer_options
from prefsmith.ingest.hh_rlhf import check_hh_source
from prefsmith.ingest.judged_sources import check_completions, check_labels, check_pairs
from prefsmith.ingest.prompt_sets import check_prompt_source
from prefsmith.labelers.chat_labeler import ChatLabeler
from prefsmith.labelers.registry import REGISTRY, build_labeler, options_of
from prefsmith.runs.scale_out import check_scale_out
from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.run_config import RunConfig
from prefsmith.store import Store


def is_paid(labeler: str) -> bool:
    """Whether the labeler calls an endpoint that may charge (and so takes a budget)."""
    return labeler in REGISTRY and issubclass(REGISTRY[labeler], ChatLabeler)


def check_run(config: RunConfig) -> None:
    """Every source readable, every labeler option valid and the store writable."""
    from prefsmith.endpoints.connect import check_endpoint

    for hh in config.ingest.hh_rlhf:
        check_hh_source(**hh.model_dump())
    for prompts in config.ingest.prompts:
        check_prompt_source(**prompts.model_dump())
    for pairs in config.ingest.pairs:
        check_pairs(**pairs.model_dump())
    for completions in config.ingest.completions:
        check_completions(**completions.model_dump())
    for labels in config.ingest.labels:
        check_labels(**labels.model_dump())
    if config.generate:
        check_endpoint(config.generate.endpoint, config.generate.model)
    trained_here = {str(Path(rm.train(config.store).output)) for rm in config.reward_models}
    for entry in config.label:
        if str(entry.options.get("model")) in trained_here:  # it doesn't exist yet
            options_of(entry.labeler, entry.options)
        else:
            build_labeler(entry.labeler, entry.options)
        check_scale_out(entry.shards, entry.task_runner)
    check_prices(config)
    for entry in config.train:
        trainer_options(entry.trainer, entry.options)
    for entry in config.evaluate:
        if entry.kind not in EVALUATIONS:
            raise UserError(f"unknown evaluation {entry.kind!r}; kinds: {', '.join(EVALUATIONS)}")
        validate(EVALUATIONS[entry.kind].options, entry.options, where=f"evaluate {entry.kind}: ")
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


def check_prices(config: RunConfig) -> None:
    """A budget needs a price for every paid stage it covers: an unlisted model is named now."""
    paid = []
    if config.generate and (config.max_cost is not None or config.generate.max_cost is not None):
        paid.append(("generate", config.generate))
    for entry in config.label:
        if entry.max_cost is not None and not is_paid(entry.labeler):
            raise UserError(f"label {entry.labeler}: max_cost, but it calls no paid endpoint")
        if is_paid(entry.labeler) and (config.max_cost is not None or entry.max_cost is not None):
            paid.append((f"label {entry.labeler}", options_of(entry.labeler, entry.options)))
    for stage, o in paid:
        try:
            Budget.for_endpoint(0.0, o.endpoint, o.model, o.pricing, False)
        except UserError as error:
            raise UserError(f"{stage}: {error}") from None
