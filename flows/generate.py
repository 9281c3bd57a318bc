"""The generate flow: N candidates per prompt from an OpenAI-compatible server.

prefsmith generate --store S --n 2 --endpoint local            # bundled SmolLM2 via llama.cpp
prefsmith generate --store S --n 4 --endpoint https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

import contextlib
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.flows.generation import generate_candidates
from prefsmith.flows.progress import progress_bar
from prefsmith.flows.store import Store
from prefsmith.labelers.chat_client import ChatClient
from prefsmith.labelers.local_server import LocalServer
from prefsmith.schemas.errors import UserError


@contextlib.contextmanager
def endpoint_client(endpoint: str, model: str | None, max_concurrency: int, timeout: float):
    """A ChatClient for `endpoint`; `local` starts the bundled llama.cpp server for the duration."""
    if endpoint == "local":
        with LocalServer(model) as server:
            yield ChatClient(
                server.base_url, server.model_name, max_concurrency=max_concurrency, timeout=timeout
            )
        return
    if not endpoint.startswith(("http://", "https://")):
        raise UserError(
            f"--endpoint {endpoint}: expected local or an http(s) URL of an OpenAI-compatible API"
        )
    if not model:
        raise UserError("--model is required with a remote --endpoint")
    yield ChatClient(endpoint, model, max_concurrency=max_concurrency, timeout=timeout)


@task(name="generate_candidates", cache_policy=NONE, persist_result=False)
def generate_task(store: str, settings: dict[str, Any]) -> dict[str, Any]:
    sampling = {k: settings[k] for k in ("temperature", "top_p", "max_tokens", "seed")}
    with (
        endpoint_client(
            settings["endpoint"],
            settings["model"],
            settings["max_concurrency"],
            settings["timeout"],
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
    limit: int | None = None,
) -> dict[str, Any]:
    """Write `n` candidates per prompt (only those still missing for this generator)."""
    return generate_task(store, dict(locals()))
