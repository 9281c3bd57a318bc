"""An OpenAI-compatible chat client for OpenAI, vLLM, TGI or llama.cpp servers.

Bounded concurrency, a request timeout, and retries with exponential backoff and
jitter on transient faults only (429, 5xx, timeouts, dropped connections, a 2xx that is
not a well-formed completion); those still failing are left for the next run. A refusal
that holds for every request (401/403, 404, a malformed 400) stops the run
(`EndpointRefused`); error texts are scrubbed of keys. Optional client-side limits on requests and tokens per
minute keep a run inside a provider's quota instead of retrying into it. The API
key comes from the environment (OPENAI_API_KEY), never from configuration.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from prefsmith.endpoints.rate_limit import RateLimit, estimate_tokens
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.secrets import scrub

TRANSIENT_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524}
TOO_LONG = re.compile(r"context.length|maximum context|too many tokens|too long|exceeds", re.I)


class EndpointRefused(UserError):
    """The server refuses every request of this run (a wrong key, an unknown model, a
    malformed request): the run stops with one line and stores nothing for its items."""


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
        self.budget: Any = None  # a labelers.budget.Budget: checked before every round

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
        self,
        client: Any,
        gate: asyncio.Semaphore,
        messages: list[dict],
        sampling: dict,
        reserved: float = 0.0,
    ) -> ChatResult:
        result = await self._attempts(client, gate, messages, sampling, reserved)
        if self.budget is not None:
            self.budget.settle(reserved, result.usage)
        return result

    async def _attempts(
        self, client: Any, gate: asyncio.Semaphore, messages: list[dict], sampling: dict, reserved
    ) -> ChatResult:
        """One request's outcome. Transient faults (network, timeouts, 408/409/429/5xx, a
        2xx that is not a well-formed completion) are retried, then returned as a transient
        error (not stored: the next run asks again); a request the server refuses for the
        whole run (401/403, 404, a malformed 400) raises EndpointRefused; a prompt too long
        for the model is that item's final error."""
        import openai

        for attempt in range(self.max_retries + 1):
            async with gate:
                await self._wait_for_quota(messages, sampling)
                self.requests += 1
                try:
                    reply = await client.chat.completions.create(
                        model=self.model, messages=messages, **sampling
                    )
                    result = completion_result(reply)
                    billed = False  # an answer comes with its usage: settled by it
                except openai.APITimeoutError:
                    reason, billed = "timeout: no answer within the timeout", True
                except openai.APIConnectionError as error:
                    reason, billed = f"connection_error: {scrub(str(error))[:200]}", True
                except openai.APIStatusError as error:
                    if error.status_code not in TRANSIENT_STATUS:
                        return self._refused(error)
                    kind = "rate_limited" if error.status_code == 429 else "server_error"
                    reason, billed = f"{kind}: HTTP {error.status_code}", False
                except Exception as error:  # any malformed 2xx reply is transient
                    reason = f"bad_response: {type(error).__name__}: {scrub(str(error))[:200]}"
                    billed = True
                else:
                    if result is not None:
                        return result
                    reason, billed = "bad_response: the reply is not a chat completion", True
            if billed and self.budget is not None:  # the provider may bill what it didn't answer
                self.budget.charge_attempt(reserved)
                if attempt < self.max_retries and not self.budget.fits(0.0):
                    return ChatResult(None, error=f"budget: no room left to retry ({reason})")
            if attempt < self.max_retries:
                await asyncio.sleep(self.backoff * 2**attempt * random.uniform(0.5, 1.5))
        return ChatResult(None, error=reason)

    def _refused(self, error: Any) -> ChatResult:
        status, message = error.status_code, scrub(_message_of(error))[:300]
        if status == 413 or (status == 400 and TOO_LONG.search(message)):
            return ChatResult(None, error=f"prompt_too_long: {message}")
        where = f"{self.base_url} (model {self.model})"
        fixes = {
            401: "check the API key (OPENAI_API_KEY)",
            403: "the key has no access to this model or endpoint",
            404: "check --model and the endpoint URL",
            400: "the server rejected the request as malformed",
        }
        fix = fixes.get(status, "the server refused the request")
        raise EndpointRefused(f"{where} answered HTTP {status}: {fix}: {message}") from None

    async def _many(
        self, requests: Sequence[tuple[list[dict], dict]], reserved: Sequence[float]
    ) -> list[ChatResult]:
        gate = asyncio.Semaphore(self.max_concurrency)
        async with self._client() as client:
            return await asyncio.gather(
                *(
                    self._one(client, gate, m, s, r)
                    for (m, s), r in zip(requests, reserved, strict=True)
                )
            )

    def chat_many(self, requests: Sequence[tuple[list[dict], dict]]) -> list[ChatResult]:
        """One result per (messages, sampling) request, in order; never raises for a request.
        With a budget, raises BudgetReached before sending a round that could exceed it."""
        reserved = self.budget.admit(requests) if self.budget is not None else [0.0] * len(requests)
        return asyncio.run(self._many(requests, reserved))


def completion_result(reply: Any) -> ChatResult | None:
    """The answer of a well-formed chat completion, or None for anything else (a proxy's HTML
    page parsed as a string, a reply without choices or message)."""
    choices = getattr(reply, "choices", None)
    if not isinstance(choices, list) or not choices:
        return None
    choice = choices[0]
    message = getattr(choice, "message", None)
    if message is None or not isinstance(getattr(message, "content", None), (str, type(None))):
        return None
    if message.content is None and choice.finish_reason not in ("stop", "length"):
        return None
    usage = reply.usage.model_dump() if getattr(reply, "usage", None) else {}
    usage = {k: v for k, v in usage.items() if isinstance(v, int)}
    return ChatResult(
        message.content or "",
        usage,
        choice.finish_reason,
        top_logprobs=first_token_logprobs(choice),
    )


def _message_of(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return inner["message"]
        if isinstance(inner, str):
            return inner
    return str(getattr(error, "message", "") or error)


def first_token_logprobs(choice: Any) -> dict[str, float] | None:
    """{token: logprob} of the answer's first token, or None if the server sent none."""
    content = getattr(getattr(choice, "logprobs", None), "content", None)
    if not content:
        return None
    first = content[0]
    table = {top.token: top.logprob for top in first.top_logprobs or []}
    table.setdefault(first.token, first.logprob)
    return table
