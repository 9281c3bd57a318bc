"""The pipeline flow: every stage of a run config, as subflows of one flow run.

    prefsmith run configs/quickstart.yaml [--store DIR]

Stages run in order and each skips what the store already holds, so a rerun
(scheduled, or after a crash) does only the missing work.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow

from prefsmith.flows.build import build_preference_flow, build_reward_in_prompt_flow
from prefsmith.flows.export import export_dataset
from prefsmith.flows.finetune import launch_training
from prefsmith.flows.hh_ingest import check_hh_source
from prefsmith.flows.ingest import ingest_hh_rlhf, ingest_prompts
from prefsmith.flows.prompt_ingest import check_prompt_source
from prefsmith.flows.store import Store
from prefsmith.schemas.config import RunConfig, load_run_config
from prefsmith.schemas.errors import UserError


def check_run(config: RunConfig, store: str) -> None:
    """Every source readable and the store writable, before any stage starts."""
    for hh in config.ingest.hh_rlhf:
        check_hh_source(**hh.model_dump())
    for prompts in config.ingest.prompts:
        check_prompt_source(**prompts.model_dump())
    Store(store).ensure_writable()
    built = {b.name for b in [*config.build.preference, *config.build.reward_in_prompt]}
    for stage, name in [("export", e.dataset) for e in config.export] + [
        ("train", t.dataset) for t in config.train
    ]:
        if name not in built and not (Path(store) / "datasets" / name).is_dir():
            raise UserError(
                f"{stage}: dataset {name!r} is neither built by this run nor in {store}"
            )


@flow(name="pipeline")
def pipeline(config: str, store: str | None = None) -> dict[str, Any]:
    """Run the stages of the YAML run config at `config`; `store` overrides its store."""
    started = time.perf_counter()
    run = load_run_config(config)
    store = store or run.store
    check_run(run, store)
    stages = [ingest_hh_rlhf(store=store, **hh.model_dump()) for hh in run.ingest.hh_rlhf]
    stages += [ingest_prompts(store=store, **p.model_dump()) for p in run.ingest.prompts]
    stages += [build_preference_flow(store=store, **b.model_dump()) for b in run.build.preference]
    stages += [
        build_reward_in_prompt_flow(store=store, **b.model_dump())
        for b in run.build.reward_in_prompt
    ]
    stages += [export_dataset(store=store, **e.model_dump()) for e in run.export]
    stages += [launch_training(store, t) for t in run.train]
    return {
        "command": "run",
        "config": config,
        "store": store,
        "stages": stages,
        **Store(store).summary(),
        "seconds": round(time.perf_counter() - started, 3),
    }
