"""Spending caps and dry runs for paid endpoints.

A `Budget` is asked before every round of requests (`admit`): what was spent so far (the
usage the server reported, priced), plus the worst cases reserved by requests in flight, plus
the round's worst case (its prompt tokens counted with the model's tokenizer, plus every
request's `max_tokens` as output) must stay within `max_usd`, else `BudgetReached` is raised
before anything is sent. A request's reservation is settled by its reported usage; an attempt
the provider may bill without answering (a timeout) is charged at its worst case, and retried
(under the same reservation) only if spent + reserved still fits. A run therefore never spends more than its cap, counted the worst
way, and stops within one batch of it.

A `RequestPlan` is what a run would send, added up without sending it (`--dry-run`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prefsmith.endpoints.pricing import Price, cost_usd, load_pricing, price_of
from prefsmith.endpoints.token_counts import TokenCounter, token_counter
from prefsmith.schemas.errors import UserError

Request = tuple[Sequence[dict[str, str]], Mapping[str, Any]]
# A request without max_tokens may answer up to the model's context: counted as this.
UNBOUNDED_OUTPUT = 4096
FREE = Price(input=0.0, output=0.0)


class BudgetReached(Exception):
    """The next round of requests could take the run past its budget: nothing was sent."""


def endpoint_price(endpoint: str, model: str | None, pricing: str | None) -> Price | None:
    """The price of `model` at `endpoint`: free on the local server or in-process weights,
    the pricing table's otherwise (None: the table does not list it)."""
    from prefsmith.endpoints.connect import is_transformers_endpoint

    if endpoint == "local" or is_transformers_endpoint(endpoint):
        return FREE
    return price_of(load_pricing(pricing), model)


def output_ceiling(sampling: Mapping[str, Any]) -> int:
    return int(sampling.get("max_tokens") or UNBOUNDED_OUTPUT)


@dataclass
class Budget:
    """At most `max_usd` dollars for this run, checked before each round of requests."""

    max_usd: float
    price: Price
    counter: TokenCounter | None  # None on a free endpoint: nothing to count
    batch: bool = False  # priced at the Batch API's discount
    spent: float = 0.0  # reported usage, priced (and billed failures at their worst case)
    reserved: float = 0.0  # worst cases of requests in flight
    reached: bool = False

    @classmethod
    def for_endpoint(
        cls, max_usd: float, endpoint: str, model: str | None, pricing: str | None, batch: bool
    ) -> Budget:
        if max_usd < 0:
            raise UserError(f"--max-cost {max_usd}: a budget can't be negative")
        price = endpoint_price(endpoint, model, pricing)
        if price is None:
            raise UserError(
                f"--max-cost: the pricing table lists no price for model {model}; "
                "add it to a copy of templates/pricing.yaml and pass it with --pricing FILE"
            )
        free = price.input == 0 and price.output == 0
        return cls(max_usd, price, None if free else token_counter(endpoint, model), batch)

    def worst_case(self, requests: Iterable[Request]) -> float:
        return sum(self.worst_cases(requests))

    def worst_cases(self, requests: Iterable[Request]) -> list[float]:
        """Each request's worst case: its prompt tokens (with the tokenizer's margin where
        it only stands in for the model's) and its `max_tokens`, priced."""
        if self.counter is None:
            return [0.0 for _ in requests]
        margin = self.counter.margin
        return [
            self.priced(math.ceil(self.counter.count(messages) * margin), output_ceiling(sampling))
            for messages, sampling in requests
        ]

    def priced(self, prompt_tokens: int, output_tokens: int) -> float:
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": output_tokens}
        return cost_usd(self.price, [usage], self.batch) or 0.0

    def admit(self, requests: Sequence[Request]) -> list[float]:
        """Reserve these requests' worst cases, or raise BudgetReached (nothing reserved) if
        spent + reserved + they could pass the budget. Returns each request's reservation."""
        worst = self.worst_cases(requests)
        self.admit_cost(sum(worst))
        self.reserved += sum(worst)
        return worst

    def fits(self, worst: float) -> bool:
        return self.spent + self.reserved + worst <= self.max_usd + 1e-12

    def admit_cost(self, worst: float) -> None:
        """Raise BudgetReached unless `worst` more fits (a check; nothing is reserved)."""
        if not self.fits(worst):
            self.reached = True
            raise BudgetReached(
                f"the next requests could cost ${worst:.4f}; ${self.spent + self.reserved:.4f} "
                f"of the ${self.max_usd:.4f} budget is spent or committed"
            )

    def settle(self, reserved: float, usage: Mapping[str, int] | None) -> None:
        """A reserved request ended: its reservation released, what it used charged."""
        self.reserved = max(self.reserved - reserved, 0.0)
        self.spent += cost_usd(self.price, [usage or {}], self.batch) or 0.0

    def charge_attempt(self, reserved: float) -> None:
        """An attempt the provider may bill without answering (a timeout, a dropped or
        malformed reply) is charged at its worst case; the reservation stays for a retry,
        which is made only if the budget still `fits(0)`."""
        self.spent += reserved
        if not self.fits(0.0):
            self.reached = True

    def summary(self) -> dict[str, Any]:
        tokenizer = {"tokenizer": self.counter.name} if self.counter else {}
        return {"budget_usd": self.max_usd, "spent_usd": round(self.spent, 9), **tokenizer}


@dataclass
class RequestPlan:
    """What a run would send: requests, their prompt tokens and output ceilings."""

    counter: TokenCounter
    price: Price | None
    batch: bool = False
    requests: int = 0
    input_tokens: int = 0
    input_tokens_max: int = 0  # with earlier turns' answers at their ceiling (multi-turn)
    max_output_tokens: int = 0

    def add(self, messages: Sequence[dict[str, str]], sampling: Mapping[str, Any], earlier=0):
        """One request; `earlier`: answers of earlier turns in it, unknown before they exist."""
        tokens = self.counter.count(messages)
        self.requests += 1
        self.input_tokens += tokens
        self.input_tokens_max += tokens + earlier * output_ceiling(sampling)
        self.max_output_tokens += output_ceiling(sampling)

    def summary(self, command: str, **extra: Any) -> dict[str, Any]:
        def dollars(prompt: int, output: int) -> float | None:
            usage = {"prompt_tokens": prompt, "completion_tokens": output}
            return cost_usd(self.price, [usage], self.batch)

        return {
            "command": command,
            "dry_run": True,
            **extra,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            **(
                {"input_tokens_max": self.input_tokens_max}
                if self.input_tokens_max != self.input_tokens
                else {}
            ),
            "max_output_tokens": self.max_output_tokens,
            "cost_usd_min": dollars(self.input_tokens, 0),
            "cost_usd_max": dollars(self.input_tokens_max, self.max_output_tokens),
            "tokenizer": self.counter.name,
        }
