"""Critic spans in a response, and per-token rewards from them.

A critic quotes the parts of a response it judges good or bad. A quote is located
by exact match first, then by a tolerant match (case, runs of whitespace and curly
quotes ignored) mapped back to the response's own characters; a quote found neither
way is reported as unlocated, never guessed. Token rewards follow the seed's
parameters: a token takes `negative_reward_value` or `positive_reward_value` when at
least `intrinsic_reward_threshold` of its characters lie in spans of that polarity
(negative first when both qualify), else 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

_FOLD = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u00a0": " "})


def parse_critique(text: str | None) -> dict[str, list[str]] | None:
    """{"positive": [...], "negative": [...]} from a critic's answer; None if not that shape."""
    if not text:
        return None
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return None
    try:
        found = json.loads(text[start : end + 1])
    except ValueError:
        return None
    if not isinstance(found, dict):
        return None
    critique = {}
    for key in ("positive", "negative"):
        quotes = found.get(key, [])
        if isinstance(quotes, str):
            quotes = [quotes]
        if not isinstance(quotes, list) or not all(isinstance(q, str) for q in quotes):
            return None
        critique[key] = [q for q in quotes if q.strip()]
    return critique


def _folded(text: str) -> tuple[str, list[int]]:
    """Lower-cased text with whitespace runs as one space, and each char's original index."""
    chars, where = [], []
    previous_space = False
    for index, char in enumerate(text.translate(_FOLD).lower()):
        if char.isspace():
            if previous_space:
                continue
            char, previous_space = " ", True
        else:
            previous_space = False
        chars.append(char)
        where.append(index)
    return "".join(chars), where


def locate(response: str, quote: str) -> tuple[int, int] | None:
    """(start, end) of `quote` in `response`, exact or tolerant; None if not there."""
    quote = quote.strip().strip("\"'\u201c\u201d\u2018\u2019").strip()  # quotes around a quote
    if not quote:
        return None
    exact = response.find(quote)
    if exact >= 0:
        return exact, exact + len(quote)
    haystack, where = _folded(response)
    needle, _ = _folded(quote)
    found = haystack.find(needle.strip())
    if found < 0:
        return None
    last = found + len(needle.strip()) - 1
    return where[found], where[last] + 1


def locate_all(response: str, critique: dict[str, list[str]]) -> tuple[list[dict], list[dict]]:
    """Located spans ({start, end, text, polarity}) and the quotes that could not be found."""
    spans, unlocated = [], []
    for polarity in ("positive", "negative"):
        for quote in critique.get(polarity, []):
            place = locate(response, quote)
            if place is None:
                unlocated.append({"quote": quote, "polarity": polarity})
            else:
                start, end = place
                spans.append(
                    {"start": start, "end": end, "text": response[start:end], "polarity": polarity}
                )
    return spans, unlocated


def token_rewards(
    offsets: Sequence[tuple[int, int]],
    spans: Sequence[dict[str, Any]],
    *,
    positive: float = 1.0,
    negative: float = -1.0,
    threshold: float = 0.5,
) -> list[float]:
    """One reward per token (by its character offsets in the response)."""
    rewards = []
    for start, end in offsets:
        width = max(end - start, 1)
        covered = {"positive": 0, "negative": 0}
        for span in spans:
            overlap = min(end, span["end"]) - max(start, span["start"])
            if overlap > 0:
                covered[span["polarity"]] += overlap
        if covered["negative"] / width >= threshold and covered["negative"]:
            rewards.append(negative)
        elif covered["positive"] / width >= threshold and covered["positive"]:
            rewards.append(positive)
        else:
            rewards.append(0.0)
    return rewards
