"""The label flow: one labeler over the store, skipping what it has already labeled.

prefsmith label --store S --labeler reward_model --model ./my-rm
prefsmith label --store S --labeler yes_no --question "Is this response harmless?"
prefsmith label --store S --labeler reward_model --model ./my-rm --shards 8 --task-runner dask

Items are split into `shards` by their label id (stable across runs); the task
`label_items` is mapped over the shards on the chosen task runner (threads, a Dask or
a Ray cluster: runtime/task_runners.py). Every shard reads and writes the store itself,
so the store must be a path that every worker sees; only small summaries travel back.
A shard holds the Prefect concurrency limit of its model (`prefsmith-model-cuda`, ...)
while the model is loaded, when such a limit exists on the server; a shard that fails
on a transient error (out of memory, timeout, refused connection, 429, 5xx) is retried,
and a retry labels only what is still missing. See docs/scale-out.md.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, task, unmapped
from prefect.cache_policies import NONE
from prefect.futures import wait

from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.run_limits import shard_limit
from prefsmith.labelers.run_summary import merge_summaries
from prefsmith.labelers.runner import run_labeler
from prefsmith.runs.scale_out import check_scale_out
from prefsmith.runtime.progress import progress_bar
from prefsmith.runtime.task_runners import model_slot, retry_on_transient, worker_api
from prefsmith.runtime.task_runners import task_runner as make_task_runner
from prefsmith.schemas.run_config import LabelConfig
from prefsmith.store import Store


@task(
    name="label_items",
    cache_policy=NONE,
    persist_result=False,  # the store is the source of truth; the result is a small summary
    retries=2,
    retry_delay_seconds=[10, 60],
    retry_condition_fn=retry_on_transient,
)
def label_items(
    store: str,
    labeler: str,
    options: dict[str, Any],
    limit: int | None,
    shard: int = 0,
    shards: int = 1,
    origins: list[str] | None = None,
    retry_errors: list[str] | None = None,
    max_cost: float | None = None,
    job: dict[str, Any] | None = None,
    sample: float | None = None,
) -> dict[str, Any]:
    """Label shard `shard` of `shards` (at most `limit` items of it, spending at most
    `max_cost`)."""
    instance = build_labeler(labeler, options)
    # What `prefsmith batches collect` runs again to write a Batch API run's labels.
    instance.job = {"command": "label", "config": job or {"labeler": labeler, "options": options}}
    common = {
        "limit": limit,
        "origins": origins,
        "sample": sample,
        "retry_errors": retry_errors or (),
        "max_cost": max_cost,
    }
    if shards > 1:  # one progress display per terminal: shards report in the flow's logs
        return run_labeler(
            Store(store), instance, shard=(shard, shards), while_loaded=model_slot, **common
        )
    with progress_bar(f"label {instance.name}", total=None, unit="items") as advance:
        return run_labeler(
            Store(store),
            instance,
            on_progress=advance,
            **common,
            while_loaded=model_slot,
        )


@flow(name="label")
def label(store: str, config: LabelConfig) -> dict[str, Any]:
    """Label the store's items with `config.labeler` (a registry key) configured by its
    `options`: the fields of `LabelConfig`, as in a run config's `label:` entries.

    `origins`: label only candidates whose origin starts with one of these (`generate:`).
    `shards`: split the items into this many parts, labeled as parallel tasks.
    `task_runner`: where those tasks run: threads (default), dask, dask?workers=N,
    dask://HOST:PORT, ray, ray://HOST:PORT (runtime/task_runners.py).
    """
    config = LabelConfig.model_validate(config)
    labeler, options, limit = config.labeler, dict(config.options), config.limit
    shards, task_runner, origins = config.shards, config.task_runner, config.origins
    retry_errors, max_cost = config.retry_errors, config.max_cost
    build_labeler(labeler, options)  # options checked before any work
    spec = check_scale_out(shards, task_runner)
    if spec.kind == "threads" and shards == 1:
        return label_items(
            store,
            labeler,
            options,
            limit,
            origins=origins,
            retry_errors=retry_errors,
            max_cost=max_cost,
            job=config.model_dump(),
            sample=config.sample,
        )
    started = time.perf_counter()
    runner = make_task_runner(task_runner)
    with worker_api(spec), runner:
        futures = runner.map(
            label_items,
            {
                "store": unmapped(store),
                "labeler": unmapped(labeler),
                "options": unmapped(options),
                "limit": [shard_limit(limit, i, shards) for i in range(shards)],
                "shard": range(shards),
                "shards": unmapped(shards),
                "origins": unmapped(origins),
                "sample": unmapped(config.sample),
                "retry_errors": unmapped(retry_errors),
                "max_cost": unmapped(None if max_cost is None else max_cost / shards),
                "job": unmapped(config.model_dump()),
            },
        )
        wait(futures)  # every shard finishes its work before a failed one stops the run
        summaries = [future.result() for future in futures]
    return merge_summaries(summaries, time.perf_counter() - started)
