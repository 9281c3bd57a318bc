"""What a registry entry of finetune/registry.py is: a trainer (a class whose `train` is the
launcher's signature) or an evaluation (a function), each with its options model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

if TYPE_CHECKING:
    from pathlib import Path

    from prefsmith.store import Store


@dataclass(frozen=True)
class Trainer:
    """A trainer: its name, options model, the dataset kinds and row formats it reads, and a
    one-line summary (the CLI command's help). A subclass implements `train`."""

    name: str
    options: type[BaseModel]
    kinds: tuple[str, ...]
    formats: tuple[str, ...]
    summary: str

    def train(
        self,
        store: Store,
        dataset: str,
        output: Path,
        options: BaseModel,
        *,
        settings: dict[str, Any] | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Train on `dataset` into `output` with the trainer's `options` and trl's `settings`
        (these win); `resume` continues from the last checkpoint. Returns the summary."""
        raise NotImplementedError(f"trainer {self.name} has no train()")


@dataclass(frozen=True)
class Evaluation:
    """An evaluation: `function(store, dataset, output=..., **options)`, its options model,
    the dataset kinds it takes prompts from."""

    function: Callable[..., dict[str, Any]]
    options: type[BaseModel]
    kinds: tuple[str, ...]
