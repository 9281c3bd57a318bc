"""The generate stage as one call: a `GenerateConfig` run against the store (what the
`generate` flow and `prefsmith batches collect` run), its dry-run plan and its cost."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefsmith.endpoints.clients import budget_for, cost_of, open_client
from prefsmith.generation.candidates import generate_candidates
from prefsmith.schemas.run_config import GenerateConfig
from prefsmith.store import Store


def run_generation(
    store: Store,
    config: GenerateConfig,
    on_progress: Callable[[int], None] | None = None,
    *,
    job: dict[str, Any] | None = None,
    submit: bool = True,
) -> dict[str, Any]:
    """Write `config.n` candidates per prompt, only those still missing for this generator.

    `job` is what `prefsmith batches collect` runs again for a Batch API run (default: this
    generation); `submit=False` writes what collected batches answered and sends nothing."""
    paying = submit and config.max_cost is not None
    budget = budget_for(config, config.max_cost) if paying else None
    job = job or {"command": "generate", "config": config.model_dump()}
    with open_client(
        config, budget=budget, store_root=str(store.root), job=job, submit=submit
    ) as client:
        summary = generate_candidates(
            store,
            client,
            n=config.n,
            sampling={**config.sampling(), "seed": config.seed},
            limit=config.limit,
            on_progress=on_progress,
            sources=config.sources,
            first_turn_only=config.first_turn_only,
        )
    if config.batch:
        summary["batch_pending"] = summary["errors_by_reason"].pop("batch_pending", 0)
        summary["errors"] -= summary["batch_pending"]
        summary["batch"] = client.summary()
    return {**summary, "cost_usd": cost_of(config, [summary["usage"]])}


def generator_model(endpoint: str, model: str | None) -> str:
    """The model name the endpoint's client reports (part of the candidates' origin)."""
    from prefsmith.bundled import smollm2_gguf
    from prefsmith.endpoints.connect import endpoint_model

    if endpoint == "local":
        return Path(model or smollm2_gguf()).name.removesuffix(".gguf")
    return endpoint_model(endpoint, model)


def plan_generate(store: Store, config: GenerateConfig) -> dict[str, Any]:
    """`--dry-run`: the requests, tokens and cost range of the samples still missing; later
    turns of multi-turn prompts count earlier answers as empty (`input_tokens`) or at
    their ceiling (`input_tokens_max`)."""
    from prefsmith.endpoints.budget import RequestPlan, endpoint_price
    from prefsmith.endpoints.token_counts import token_counter
    from prefsmith.generation.candidates import missing_samples, origin_of, plan_generation

    c = config
    origin = origin_of(generator_model(c.endpoint, c.model), c.sampling())
    _, work, cached = missing_samples(
        store, origin, n=c.n, sources=c.sources, first_turn_only=c.first_turn_only, limit=c.limit
    )
    price = endpoint_price(c.endpoint, c.model, c.pricing)
    plan = RequestPlan(token_counter(c.endpoint, c.model), price, batch=c.batch)
    plan_generation(plan, work, c.sampling())
    return plan.summary("generate", origin=origin, samples=len(work), cached=cached)
