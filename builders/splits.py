"""Dataset splits by prompt id: no prompt in two splits, stable as the data grows.

A prompt's split depends only on (seed, prompt id), so rebuilding a dataset
after new prompts arrive never moves an old prompt to another split.
"""

from __future__ import annotations

import xxhash

from prefsmith.schemas.errors import UserError

DEFAULT_SPLITS = {"train": 0.95, "test": 0.05}


def parse_splits(text: str) -> dict[str, float]:
    """`train=0.9,test=0.1` -> {"train": 0.9, "test": 0.1}; fractions must sum to 1."""
    splits: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            fraction = float(value)
        except ValueError:
            raise UserError(
                f"--splits: {item!r} is not NAME=FRACTION (e.g. train=0.9,test=0.1)"
            ) from None
        if not name or not 0 < fraction <= 1:
            raise UserError(f"--splits: {item!r} needs a name and a fraction in (0, 1]")
        splits[name] = fraction
    if not splits or abs(sum(splits.values()) - 1) > 1e-6:
        raise UserError(f"--splits: fractions must add up to 1, got {text!r}")
    return splits


def split_of(prompt_id: str, splits: dict[str, float], seed: int = 0) -> str:
    """The split a prompt belongs to: a seeded hash of its id placed on [0, 1)."""
    position = xxhash.xxh3_64_intdigest(f"{seed}:{prompt_id}".encode()) / 2**64
    cumulative = 0.0
    for name, fraction in splits.items():
        cumulative += fraction
        if position < cumulative:
            return name
    return next(reversed(splits))
