"""What a registry entry of finetune/registry.py is: a trainer or an evaluation, with its
function and its options model."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class Trainer:
    """A trainer: `function(trainer, store, dataset, output, options, settings=..., resume=...)`
    (it gets this entry as `trainer`: its name, kinds and formats), its options model, the
    dataset kinds and row formats it reads."""

    name: str
    function: Callable[..., dict[str, Any]]
    options: type[BaseModel]
    kinds: tuple[str, ...]
    formats: tuple[str, ...]
    summary: str


@dataclass(frozen=True)
class Evaluation:
    """An evaluation: `function(store, dataset, output=..., **options)`, its options model,
    the dataset kinds it takes prompts from."""

    function: Callable[..., dict[str, Any]]
    options: type[BaseModel]
    kinds: tuple[str, ...]
