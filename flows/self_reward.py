"""The self-rewarding loop (Yuan et al. 2024, arXiv 2401.10020) as one flow.

    self_reward(store="S", iterations=2, prompts=6, n=4)   # or a run config's `self_reward:`

For k = 1..K the policy of iteration k-1 (the bundled SmolLM2, or `policy`, at k = 1)
answers `n` times per prompt, grades its own answers with the additive 5-point rubric
(`single-logprob`: the expected digit, no text to parse), the best and the worst
answer of each prompt become a DPO pair, and DPO trains policy k from policy k-1.
Each step skips what the store already holds, and a finished iteration is skipped
whole: a rerun does no new work, a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NONE

from prefsmith.endpoints.transformers_client import TransformersClient
from prefsmith.finetune import self_rewarding as steps
from prefsmith.generation.candidates import generate_candidates
from prefsmith.labelers.runner import run_labeler
from prefsmith.runtime.progress import progress_bar
from prefsmith.schemas.config import validate
from prefsmith.schemas.self_reward import SelfRewardConfig
from prefsmith.store import Store

TASK = {"cache_policy": NONE, "persist_result": False}


@task(name="select_prompts", **TASK)
def select_prompts(store: str, iteration: steps.Iteration, config: SelfRewardConfig) -> int:
    return steps.select_prompts(store, iteration, config)


@task(name="sample_candidates", **TASK)
def sample_candidates(
    iteration: steps.Iteration, client: TransformersClient, config: SelfRewardConfig
) -> dict[str, Any]:
    with progress_bar(f"iteration {iteration.k}: generate", None, "samples") as advance:
        return generate_candidates(
            Store(iteration.store),
            client,
            n=config.n,
            sampling=steps.sampling_of(config),
            on_progress=advance,
            first_turn_only=True,  # the judge reads the first answer; DPO trains on it
        )


@task(name="judge_candidates", **TASK)
def judge_candidates(
    iteration: steps.Iteration,
    client: TransformersClient,
    policy: str | None,
    config: SelfRewardConfig,
) -> dict[str, Any]:
    labeler = steps.judge_for(policy, config)
    labeler.client = client  # the weights already loaded for generation
    with progress_bar(f"iteration {iteration.k}: judge", None, "items") as advance:
        return run_labeler(Store(iteration.store), labeler, on_progress=advance)


@task(name="build_pairs", **TASK)
def build_pairs(
    iteration: steps.Iteration, origin: str, policy: str | None, config: SelfRewardConfig
) -> dict[str, Any]:
    return steps.build_pairs(iteration, origin, steps.judge_for(policy, config), config.min_margin)


@task(name="train_policy", **TASK)
def train_policy(
    iteration: steps.Iteration, policy: str | None, config: SelfRewardConfig
) -> dict[str, Any]:
    return steps.train_policy(iteration, policy, config)


def _run_iteration(
    store: str, iteration: steps.Iteration, policy: str | None, config: SelfRewardConfig
) -> dict[str, Any]:
    logger = get_run_logger()
    k, started, seconds = iteration.k, time.perf_counter(), {}

    def timed(name: str, began: float) -> None:
        seconds[name] = round(time.perf_counter() - began, 3)

    prompts = select_prompts(store, iteration, config)
    began = time.perf_counter()
    client = TransformersClient(policy, batch_size=config.batch_size, device=config.device)
    logger.info(
        "iteration %d: policy %s (%s), %d prompts", k, policy or "bundled", client.model, prompts
    )
    try:
        generated = sample_candidates(iteration, client, config)
        timed("generate", began)
        logger.info(
            "iteration %d: %d candidates generated, %d cached (%s)",
            k, generated["generated"], generated["cached"], generated["origin"],
        )  # fmt: skip
        began = time.perf_counter()
        judged = judge_candidates(iteration, client, policy, config)
        timed("judge", began)
        logger.info(
            "iteration %d: %d judged, %d cached, %d errors %s",
            k, judged["labeled"], judged["cached"], judged["errors"], judged["errors_by_reason"],
        )  # fmt: skip
    finally:
        client.close()
    began = time.perf_counter()
    built = build_pairs(iteration, generated["origin"], policy, config)
    timed("build", began)
    logger.info(
        "iteration %d: mean score %s, histogram %s, %d pairs (dropped %s)",
        k, built["mean_score"], built["score_histogram"], built["pairs"], built["pair_drops"],
    )  # fmt: skip
    began = time.perf_counter()
    trained = train_policy(iteration, policy, config)
    timed("train", began)
    logger.info(
        "iteration %d: DPO train loss %s, reward accuracy %s -> %s",
        k, trained.get("train_loss"), trained.get("train_rewards_accuracies"), iteration.model,
    )  # fmt: skip
    record = {
        "iteration": k,
        "policy_in": policy or steps.BUNDLED,
        "policy_in_id": client.model,
        "model_out": str(iteration.model),
        "store": str(iteration.store),
        "prompts": prompts,
        "generated": generated["generated"],
        **built,
        "judged": judged["labeled"],
        "train_loss": trained.get("train_loss"),
        "train_rewards_accuracies": trained.get("train_rewards_accuracies"),
        "train_rewards_margins": trained.get("train_rewards_margins"),
        "train_rows": trained.get("train_rows"),
        "steps_seconds": seconds,
        "seconds": round(time.perf_counter() - started, 3),
        "settings": json.loads(json.dumps(config.results_key())),
    }
    return steps.record_iteration(iteration, record)


@flow(name="self-reward")
def self_reward(store: str, config: SelfRewardConfig) -> dict[str, Any]:
    """K iterations of generate -> self-judge -> best/worst pairs -> DPO; `config` holds the
    fields of `SelfRewardConfig` (a run config's `self_reward:`). Returns each iteration's
    record."""
    config = validate(
        SelfRewardConfig,
        config if isinstance(config, dict) else config.model_dump(),
        "self_reward.",
    )
    started, logger = time.perf_counter(), get_run_logger()
    root, current, records = steps.output_root(store, config), config.policy, []
    for k in range(1, config.iterations + 1):
        iteration = steps.Iteration(root, k)
        record = steps.finished(iteration, config)
        if record is None:
            record = {**_run_iteration(store, iteration, current, config), "cached": False}
        else:
            logger.info("iteration %d: done before (%s), skipped", k, iteration.model)
            record = {**record, "cached": True}
        records.append(record)
        current = str(iteration.model)
    return {
        "command": "self-reward",
        "store": store,
        "output": str(root),
        "iterations": records,
        "seconds": round(time.perf_counter() - started, 3),
    }
