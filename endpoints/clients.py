"""One door to a chat client: `open_client(options)` gives the client that generation and
every chat labeler use, whatever the endpoint (a server, the bundled llama.cpp, in-process
weights) and however requests are sent (online, or queued for the Batch API)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from prefsmith.endpoints.budget import Budget, endpoint_price
from prefsmith.endpoints.connect import open_endpoint
from prefsmith.endpoints.pricing import cost_usd
from prefsmith.schemas.endpoints import EndpointOptions


@contextlib.contextmanager
def open_client(
    options: EndpointOptions,
    *,
    budget: Budget | None = None,
    store_root: str | None = None,
    job: Mapping[str, Any] | None = None,
    submit: bool = True,
) -> Iterator[Any]:
    """The client for `options`, open for the duration (a local server is stopped after).

    With `options.batch`, a `BatchClient` that records its submissions under `store_root`
    with `job` (what `prefsmith batches collect` runs again) and submits what was queued
    when the block ends; `submit=False` answers from collected batches only. Every client
    has `ChatClient`'s interface, and spends within `budget` when one is given."""
    if options.batch:
        from prefsmith.endpoints.batch_client import BatchClient

        if store_root is None:
            raise ValueError("a Batch API client records its submissions in a store")
        client = BatchClient(store_root, options.endpoint, options.model, job=job, submit=submit)
        client.budget = budget
        try:
            yield client
        finally:
            client.close()  # submits what was queued
        return
    with open_endpoint(
        options.endpoint,
        options.model,
        max_concurrency=options.max_concurrency,
        timeout=options.timeout,
        requests_per_minute=options.requests_per_minute,
        tokens_per_minute=options.tokens_per_minute,
    ) as client:
        client.budget = budget
        yield client


def budget_for(options: EndpointOptions, max_usd: float) -> Budget:
    """A budget of `max_usd` for requests to `options`' endpoint, priced by its table."""
    return Budget.for_endpoint(
        max_usd, options.endpoint, options.model, options.pricing, batch=options.batch
    )


def cost_of(options: EndpointOptions, usages: Iterable[Mapping[str, Any]]) -> float | None:
    """Dollars requests with these usages cost at `options`' endpoint: 0 on a local server
    or in-process weights, None for a model the pricing table does not list."""
    price = endpoint_price(options.endpoint, options.model, options.pricing)
    return cost_usd(price, list(usages), batch=options.batch)
