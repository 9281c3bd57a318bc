"""The generate flow: N candidates per prompt from an OpenAI-compatible server.

prefsmith generate --store S --n 2 --endpoint local            # bundled SmolLM2 via llama.cpp
prefsmith generate --store S --n 4 --endpoint https://api.openai.com/v1 --model gpt-4o-mini
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.generation.stage import run_generation
from prefsmith.runtime.progress import progress_bar
from prefsmith.schemas.run_config import GenerateConfig
from prefsmith.store import Store


@task(name="generate_candidates", cache_policy=NONE, persist_result=False)
def generate_candidates(store: str, config: GenerateConfig) -> dict[str, Any]:
    with progress_bar("generate", total=None, unit="samples") as advance:
        return run_generation(Store(store), config, on_progress=advance)


@flow(name="generate")
def generate(store: str, config: GenerateConfig) -> dict[str, Any]:
    """Write `n` candidates per prompt (only those still missing for this generator): the
    fields of `GenerateConfig`, as in a run config's `generate:` section.

    `sources`: only prompts whose source starts with one of these; `first_turn_only`:
    answer the first user turn of multi-turn prompts and not the follow-ups."""
    return generate_candidates(store, GenerateConfig.model_validate(config))
