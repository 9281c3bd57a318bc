"""An OpenAI-compatible chat client for OpenAI, vLLM, TGI or llama.cpp servers.

Bounded concurrency, a request timeout, and retries with exponential backoff and
jitter on 429, 5xx, timeouts and connection errors only; anything else is a final
error for that request. Optional client-side limits on requests and tokens per
minute keep a run inside a provider's quota instead of retrying into it. The API
key comes from the environment (OPENAI_API_KEY), never from configuration.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefsmith.labelers.rate_limit import RateLimit, estimate_tokens

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


@dataclass
class ChatResult:
    text: str | None
    usage: dict[str, int] = field(default_factory=dict)
    finish_reason: str | None = None
    error: str | None = None  # "<reason>: <detail>"; reasons as in labelers.base
    top_logprobs: dict[str, float] | None = None  # first answer token's, when asked for


class ChatClient:
    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        max_concurrency: int = 4,
        max_retries: int = 4,
        timeout: float = 120.0,
        backoff: float = 1.0,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ) -> None:
        self.base_url, self.model = base_url, model
        self.max_concurrency, self.max_retries = max_concurrency, max_retries
        self.timeout, self.backoff = timeout, backoff
        self.request_limit = RateLimit(requests_per_minute) if requests_per_minute else None
        self.token_limit = RateLimit(tokens_per_minute) if tokens_per_minute else None
        self.requests = 0  # every HTTP attempt, retries included

    async def _wait_for_quota(self, messages: list[dict], sampling: dict) -> None:
        wait = self.request_limit.reserve() if self.request_limit else 0.0
        if self.token_limit:
            cost = estimate_tokens(messages, sampling.get("max_tokens"))
            wait = max(wait, self.token_limit.reserve(cost))
        if wait:
            await asyncio.sleep(wait)

    def _client(self) -> Any:
        from openai import AsyncOpenAI

        key = os.environ.get("OPENAI_API_KEY") or "not-needed-for-local-servers"
        return AsyncOpenAI(base_url=self.base_url, api_key=key, timeout=self.timeout, max_retries=0)

    async def _one(
        self, client: Any, gate: asyncio.Semaphore, messages: list[dict], sampling: dict
    ) -> ChatResult:
        import openai

        for attempt in range(self.max_retries + 1):
            async with gate:
                await self._wait_for_quota(messages, sampling)
                self.requests += 1
                try:
                    reply = await client.chat.completions.create(
                        model=self.model, messages=messages, **sampling
                    )
                except openai.APITimeoutError as error:
                    reason = f"timeout: {error}"
                except openai.APIConnectionError as error:
                    reason = f"connection_error: {error}"
                except openai.APIStatusError as error:
                    if error.status_code not in TRANSIENT_STATUS:
                        return ChatResult(
                            None, error=f"http_{error.status_code}: {str(error)[:300]}"
                        )
                    kind = "rate_limited" if error.status_code == 429 else "server_error"
                    reason = f"{kind}: HTTP {error.status_code}"
                except (ValueError, TypeError) as error:  # a reply that isn't the API's shape
                    return ChatResult(None, error=f"bad_response: {str(error)[:300]}")
                else:
                    if not reply.choices:
                        return ChatResult(None, error="bad_response: no choices")
                    choice = reply.choices[0]
                    usage = reply.usage.model_dump() if reply.usage else {}
                    usage = {k: v for k, v in usage.items() if isinstance(v, int)}
                    return ChatResult(
                        choice.message.content or "",
                        usage,
                        choice.finish_reason,
                        top_logprobs=first_token_logprobs(choice),
                    )
            if attempt < self.max_retries:
                await asyncio.sleep(self.backoff * 2**attempt * random.uniform(0.5, 1.5))
        return ChatResult(None, error=reason)

    async def _many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        gate = asyncio.Semaphore(self.max_concurrency)
        async with self._client() as client:
            return await asyncio.gather(*(self._one(client, gate, m, s) for m, s in requests))

    def chat_many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        """One result per (messages, sampling) request, in order; never raises for a request."""
        return asyncio.run(self._many(requests))


def first_token_logprobs(choice: Any) -> dict[str, float] | None:
    """{token: logprob} of the answer's first token, or None if the server sent none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    first = content[0]
    table = {top.token: top.logprob for top in first.top_logprobs or []}
    table.setdefault(first.token, first.logprob)
    return table
