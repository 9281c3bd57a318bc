"""Where a labeling run meets its machine: which failures are worth a retry of the whole
shard (transient ones), and which Prefect concurrency limit guards a labeler's model."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from prefsmith.labelers.base import Labeler
from prefsmith.schemas.errors import UserError


def transient_reason(error: BaseException) -> str | None:
    """The transient error kind of an exception (out_of_memory, timeout, connection_error,
    rate_limited, server_error), looking through its causes; None if it is not transient."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UserError):
            return None
        name = type(current).__name__
        status = getattr(current, "status_code", None)
        if status is None:
            status = getattr(getattr(current, "response", None), "status_code", None)
        out_of_memory = isinstance(current, RuntimeError) and "out of memory" in str(current)
        if isinstance(current, MemoryError) or name == "OutOfMemoryError" or out_of_memory:
            return "out_of_memory"
        if isinstance(current, TimeoutError) or "Timeout" in name:
            return "timeout"
        if isinstance(current, ConnectionError) or name in _CONNECTION_ERRORS:
            return "connection_error"
        if status == 429:
            return "rate_limited"
        if isinstance(status, int) and status >= 500:
            return "server_error"
        current = current.__cause__ or current.__context__
    return None


# httpx, openai, requests and aiohttp spell "could not connect" in their own classes.
_CONNECTION_ERRORS = {
    "ConnectionError",
    "ConnectError",
    "APIConnectionError",
    "RemoteProtocolError",
    "ClientConnectorError",
    "ServerDisconnectedError",
}


def model_limit(labeler: Labeler) -> str | None:
    """The Prefect global concurrency limit that guards this labeler's model, or None.

    A model loaded here: `prefsmith-model-cpu` or `prefsmith-model-cuda` (from the
    labeler's device, or where `auto` would put it); the bundled llama.cpp server:
    `prefsmith-model-local`; an OpenAI-compatible URL: `prefsmith-endpoint-HOST[-PORT]`.
    """
    options = labeler.options
    endpoint = getattr(options, "endpoint", None)
    if endpoint == "local":
        return "prefsmith-model-local"
    if endpoint and "://" in endpoint:
        parts = urlsplit(endpoint)
        host = (parts.hostname or "unknown") + (f"-{parts.port}" if parts.port else "")
        return "prefsmith-endpoint-" + re.sub(r"[^A-Za-z0-9.-]+", "-", host)
    device = getattr(options, "device", None)
    if device is None and not endpoint:  # neither a model here nor a server
        return None
    if device in (None, "auto"):
        try:
            import torch
        except ImportError:
            return "prefsmith-model-cpu"
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return f"prefsmith-model-{device}"


def shard_limit(limit: int | None, shard: int, shards: int) -> int | None:
    """Shard `shard`'s part of a run's `limit` (the parts add up to `limit`)."""
    if limit is None:
        return None
    return limit // shards + (1 if shard < limit % shards else 0)
