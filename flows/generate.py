"""The generate flow: N candidates per prompt from an OpenAI-compatible server.

prefsmith generate --store S --n 2 --endpoint local            # bundled SmolLM2 via llama.cpp
prefsmith generate --store S --n 4 --endpoint https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.labelers.batch_client import BatchClient
from prefsmith.labelers.budget import Budget
from prefsmith.labelers.endpoints import open_endpoint
from prefsmith.labelers.generation import generate_candidates
from prefsmith.runtime.progress import progress_bar
from prefsmith.schemas.run_config import GenerateConfig
from prefsmith.store import Store


@task(name="generate_candidates", cache_policy=NONE, persist_result=False)
def generate_task(store: str, settings: dict[str, Any]) -> dict[str, Any]:
    sampling = {k: settings[k] for k in ("temperature", "top_p", "max_tokens", "seed")}
    with (
        _client(store, settings) as client,
        progress_bar("generate", total=None, unit="samples") as advance,
    ):
        if settings.get("max_cost") is not None:
            client.budget = Budget.for_endpoint(
                settings["max_cost"],
                settings["endpoint"],
                settings["model"],
                settings["pricing"],
                batch=settings.get("batch", False),
            )
        summary = generate_candidates(
            Store(store),
            client,
            n=settings["n"],
            sampling=sampling,
            limit=settings["limit"],
            on_progress=advance,
            sources=settings["sources"],
            first_turn_only=settings["first_turn_only"],
        )
        if isinstance(client, BatchClient):
            summary["batch_pending"] = summary["errors_by_reason"].pop("batch_pending", 0)
            summary["errors"] -= summary["batch_pending"]
            client.close()  # submits what was queued
            summary["batch"] = client.summary()
    return {**summary, "cost_usd": generation_cost(settings, summary["usage"])}


@contextlib.contextmanager
def _client(store: str, settings: dict[str, Any]) -> Iterator[Any]:
    """The endpoint's chat client, or with `batch` its Batch API client."""
    if settings.get("batch"):
        job = {"command": "generate", "config": settings}
        yield BatchClient(store, settings["endpoint"], settings["model"], job=job)
        return
    with open_endpoint(
        settings["endpoint"],
        settings["model"],
        max_concurrency=settings["max_concurrency"],
        timeout=settings["timeout"],
        requests_per_minute=settings["requests_per_minute"],
        tokens_per_minute=settings["tokens_per_minute"],
    ) as client:
        yield client


def generation_cost(settings: dict[str, Any], usage: dict[str, int]) -> float | None:
    """Dollars this run's requests cost (0 on the local server, None for an unlisted model)."""
    from prefsmith.labelers.budget import endpoint_price
    from prefsmith.schemas.pricing import cost_usd

    price = endpoint_price(settings["endpoint"], settings["model"], settings["pricing"])
    return cost_usd(price, [usage], batch=settings.get("batch", False))


def _client_model(endpoint: str, model: str | None) -> str:
    """The model name the endpoint's client reports (part of the candidates' origin)."""
    from pathlib import Path

    from prefsmith.labelers.bundled import smollm2_gguf
    from prefsmith.labelers.endpoints import endpoint_model

    if endpoint == "local":
        return Path(model or smollm2_gguf()).name.removesuffix(".gguf")
    return endpoint_model(endpoint, model)


def plan_generate(store: Store, config: GenerateConfig) -> dict[str, Any]:
    """`--dry-run`: the requests, tokens and cost range of the samples still missing; later
    turns of multi-turn prompts count earlier answers as empty (`input_tokens`) or at
    their ceiling (`input_tokens_max`)."""
    from prefsmith.labelers.budget import RequestPlan, endpoint_price
    from prefsmith.labelers.generation import missing_samples, origin_of, plan_generation
    from prefsmith.labelers.token_counts import token_counter

    c = config
    sampling = {"temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens}
    origin = origin_of(_client_model(c.endpoint, c.model), sampling)
    _, work, cached = missing_samples(
        store, origin, n=c.n, sources=c.sources, first_turn_only=c.first_turn_only, limit=c.limit
    )
    price = endpoint_price(c.endpoint, c.model, c.pricing)
    plan = RequestPlan(token_counter(c.endpoint, c.model), price, batch=c.batch)
    plan_generation(plan, work, sampling)
    return plan.summary("generate", origin=origin, samples=len(work), cached=cached)


@flow(name="generate")
def generate(store: str, config: GenerateConfig) -> dict[str, Any]:
    """Write `n` candidates per prompt (only those still missing for this generator): the
    fields of `GenerateConfig`, as in a run config's `generate:` section.

    `sources`: only prompts whose source starts with one of these; `first_turn_only`:
    answer the first user turn of multi-turn prompts and not the follow-ups."""
    config = GenerateConfig.model_validate(config)
    return generate_task(store, config.model_dump())
