"""Dataset kind -> the engine that builds it: a dict, keyed by the fields of the run
config's `build:` stage (`schemas.builds.BuildStage`), which also gives each kind's settings
model. The CLI, the build flow and run configs all go through `build_dataset`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prefsmith.builders.datasets import build_preference, build_reward_in_prompt
from prefsmith.schemas.builds import DatasetBuildConfig, build_kinds
from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store


def _token_rewards(store: Store, config: Any) -> dict[str, Any]:
    from prefsmith.builders.token_rewards import build_token_rewards  # tokenizers: lazy

    return build_token_rewards(store, config)


BUILDERS: dict[str, Callable[[Store, Any], dict[str, Any]]] = {
    "preference": build_preference,
    "rm-pairs": build_preference,
    "reward-in-prompt": build_reward_in_prompt,
    "token-rewards": _token_rewards,
}


def build_settings(kind: str, settings: dict[str, Any] | DatasetBuildConfig) -> DatasetBuildConfig:
    """The validated settings of a `kind` build (UserError naming the kind or the key)."""
    kinds = build_kinds()
    if kind not in kinds:
        raise UserError(f"unknown dataset kind {kind!r}; kinds: {', '.join(kinds)}")
    if isinstance(settings, DatasetBuildConfig):
        settings = settings.model_dump(exclude_unset=True)
    return validate(kinds[kind], settings, where=f"build {kind}: ")


def build_dataset(store: Store, kind: str, settings: dict[str, Any]) -> dict[str, Any]:
    """Build the `kind` dataset named in `settings` (replaced whole) and return its summary.

    Every read of the build sees one version of the store (`settings.at`, else the version
    when it starts), recorded as the manifest's `store_version`: rows written meanwhile are
    not half in it, and `--at` that version rebuilds the same rows later."""
    config = build_settings(kind, settings)
    version = store.version() if config.at is None else config.at
    return BUILDERS[kind](store.at(version), config)
