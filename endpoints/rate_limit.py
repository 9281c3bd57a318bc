"""Client-side rate limits: requests per minute and tokens per minute.

A token bucket that holds a minute's allowance and refills continuously. A
request reserves its cost at once (the level may go below zero) and waits until
the bucket has refilled its share, so concurrent requests queue fairly without
a lock: asyncio runs `reserve` without interruption.
"""

from __future__ import annotations

import time


class RateLimit:
    """At most `per_minute` units (requests or tokens) per rolling minute, bursts included."""

    def __init__(self, per_minute: float) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit must be positive")
        self.capacity = float(per_minute)
        self.rate = self.capacity / 60.0  # units per second
        self.level = self.capacity
        self.updated = time.monotonic()

    def reserve(self, cost: float = 1.0) -> float:
        """Take `cost` units now; returns the seconds to wait before using them."""
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        # A single request larger than a minute's allowance would otherwise wait forever.
        self.level -= min(cost, self.capacity)
        return max(0.0, -self.level / self.rate)


def estimate_tokens(messages: list[dict], max_tokens: int | None) -> int:
    """A request's token cost before it is sent: ~4 characters per prompt token, plus the
    answer's budget, the way providers count tokens against a tokens-per-minute limit."""
    characters = sum(len(str(message.get("content") or "")) for message in messages)
    return characters // 4 + 1 + (max_tokens or 0)
