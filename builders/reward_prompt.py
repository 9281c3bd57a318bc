"""Reward-in-prompt rows (reward-conditioned SFT): rewards written into the prompt as text.

    Human: …
    <REWARD>
    Helpful reward: 0.42
    Harmless reward: 0.75<SOS>

The completion is the response. Rewards are normalised per dimension with
parameters fitted on the train split only and saved in the dataset manifest,
so `prefsmith prompt` renders an inference prompt exactly the same way.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import render_dialogue

NORMALIZERS = ("minmax", "zscore-sigmoid", "quantile", "none")
QUANTILE_KNOTS = 101


@dataclass(frozen=True)
class Normalizer:
    """A fitted normalisation of one reward dimension (JSON-serialisable parameters)."""

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def fit(cls, method: str, values: Sequence[float]) -> Normalizer:
        if method not in NORMALIZERS:
            raise UserError(f"--normalize must be one of {', '.join(NORMALIZERS)}, not {method!r}")
        if not values:
            raise UserError("no train rows to fit the reward normalisation on")
        if method == "minmax":
            return cls(method, {"min": min(values), "max": max(values)})
        if method == "zscore-sigmoid":
            mean = sum(values) / len(values)
            std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
            return cls(method, {"mean": mean, "std": std})
        if method == "quantile":
            ordered = sorted(values)
            knots = [
                ordered[round(i * (len(ordered) - 1) / (QUANTILE_KNOTS - 1))]
                for i in range(QUANTILE_KNOTS)
            ]
            return cls(method, {"knots": knots})
        return cls(method)

    def __call__(self, value: float) -> float:
        p = self.params
        if self.method == "minmax":
            span = p["max"] - p["min"]
            return 0.5 if span == 0 else min(1.0, max(0.0, (value - p["min"]) / span))
        if self.method == "zscore-sigmoid":
            z = 0.0 if p["std"] == 0 else (value - p["mean"]) / p["std"]
            return 1 / (1 + math.exp(-z))
        if self.method == "quantile":  # the train CDF, linear between knots
            knots = p["knots"]
            if value <= knots[0]:
                return 0.0
            if value >= knots[-1]:
                return 1.0
            i = bisect.bisect_right(knots, value) - 1
            step = (value - knots[i]) / (knots[i + 1] - knots[i])
            return (i + step) / (len(knots) - 1)
        return value

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RewardTemplate:
    """How the reward block is written; defaults reproduce the seed's format."""

    open_tag: str = "<REWARD>"
    start_tag: str = "<SOS>"
    line: str = "{Name} reward: {value}"
    decimals: int = 2

    def block(self, rewards: Mapping[str, float]) -> str:
        lines = [
            self.line.format(Name=name.capitalize(), name=name, value=f"{value:.{self.decimals}f}")
            for name, value in rewards.items()
        ]
        return f"\n{self.open_tag}\n" + "\n".join(lines) + self.start_tag


def render_prompt(
    messages: Sequence[Mapping[str, str]], rewards: Mapping[str, float], template: RewardTemplate
) -> str:
    """The conditioned prompt: the dialogue, then the reward block, then the start tag."""
    return render_dialogue(messages) + template.block(rewards)


def parse_targets(text: str, names: Sequence[str]) -> dict[str, float]:
    """`helpful=0.9,harmless=0.8` -> rewards in the dataset's dimension order."""
    given: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = item.partition("=")
        try:
            given[name.strip()] = float(value)
        except ValueError:
            raise UserError(f"--target: {item!r} is not NAME=VALUE") from None
    if set(given) != set(names):
        raise UserError(
            f"--target must give exactly {', '.join(names)} (got {', '.join(given) or 'none'})"
        )
    return {name: given[name] for name in names}
