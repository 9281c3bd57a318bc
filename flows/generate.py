"""The generate flow: N candidates per prompt from an OpenAI-compatible server.

prefsmith generate --store S --n 2 --endpoint local            # bundled SmolLM2 via llama.cpp
prefsmith generate --store S --n 4 --endpoint https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.labelers.endpoints import open_endpoint
from prefsmith.labelers.generation import generate_candidates
from prefsmith.runtime.progress import progress_bar
from prefsmith.schemas.run_config import GenerateConfig
from prefsmith.store import Store


@task(name="generate_candidates", cache_policy=NONE, persist_result=False)
def generate_task(store: str, settings: dict[str, Any]) -> dict[str, Any]:
    sampling = {k: settings[k] for k in ("temperature", "top_p", "max_tokens", "seed")}
    with (
        open_endpoint(
            settings["endpoint"],
            settings["model"],
            max_concurrency=settings["max_concurrency"],
            timeout=settings["timeout"],
            requests_per_minute=settings["requests_per_minute"],
            tokens_per_minute=settings["tokens_per_minute"],
        ) as client,
        progress_bar("generate", total=None, unit="samples") as advance,
    ):
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
    return {**summary, "cost_usd": generation_cost(settings, summary["usage"])}


def generation_cost(settings: dict[str, Any], usage: dict[str, int]) -> float | None:
    """Dollars this run's requests cost (0 on the local server, None for an unlisted model)."""
    from prefsmith.labelers.endpoints import is_transformers_endpoint
    from prefsmith.schemas.pricing import cost_usd, load_pricing, price_of

    if settings["endpoint"] == "local" or is_transformers_endpoint(settings["endpoint"]):
        return 0.0
    return cost_usd(price_of(load_pricing(settings["pricing"]), settings["model"]), [usage])


@flow(name="generate")
def generate(store: str, config: GenerateConfig) -> dict[str, Any]:
    """Write `n` candidates per prompt (only those still missing for this generator): the
    fields of `GenerateConfig`, as in a run config's `generate:` section.

    `sources`: only prompts whose source starts with one of these; `first_turn_only`:
    answer the first user turn of multi-turn prompts and not the follow-ups."""
    config = GenerateConfig.model_validate(config)
    return generate_task(store, config.model_dump())
