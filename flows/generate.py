"""The generate flow: N candidates per prompt from an OpenAI-compatible server.

prefsmith generate --store S --n 2 --endpoint local            # bundled SmolLM2 via llama.cpp
prefsmith generate --store S --n 4 --endpoint https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.flows.generation import generate_candidates
from prefsmith.flows.progress import progress_bar
from prefsmith.flows.store import Store
from prefsmith.labelers.endpoints import open_endpoint


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
        return generate_candidates(
            Store(store),
            client,
            n=settings["n"],
            sampling=sampling,
            limit=settings["limit"],
            on_progress=advance,
            sources=settings["sources"],
            first_turn_only=settings["first_turn_only"],
        )


@flow(name="generate")
def generate(
    store: str,
    n: int = 2,
    endpoint: str = "local",
    model: str | None = None,
    temperature: float = 0.7,
    top_p: float = 0.95,
    max_tokens: int = 256,
    seed: int | None = 0,
    max_concurrency: int = 4,
    timeout: float = 120.0,
    requests_per_minute: float | None = None,
    tokens_per_minute: float | None = None,
    limit: int | None = None,
    sources: list[str] | None = None,
    first_turn_only: bool = False,
) -> dict[str, Any]:
    """Write `n` candidates per prompt (only those still missing for this generator).

    `sources`: only prompts whose source starts with one of these; `first_turn_only`:
    answer the first user turn of multi-turn prompts and not the follow-ups."""
    return generate_task(store, dict(locals()))
