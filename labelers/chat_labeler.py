"""What the labelers that talk to an OpenAI-compatible server share (judge, critic): endpoint
options, the client's lifetime, and asking with unparseable answers re-asked at temperature 0."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from prefsmith.endpoints.budget import Budget, BudgetReached
from prefsmith.endpoints.chat_client import ChatClient, ChatResult
from prefsmith.endpoints.clients import budget_for, cost_of, open_client
from prefsmith.endpoints.connect import check_endpoint, endpoint_model, is_transformers_endpoint
from prefsmith.labelers.base import Labeler, LabelerOptions
from prefsmith.schemas.endpoints import EndpointOptions


class ChatLabelerOptions(LabelerOptions, EndpointOptions):
    """A chat labeler's options: the endpoint's (`EndpointOptions`) and how it is asked."""

    template: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    parse_retries: int = 2
    # JSON constrained by a schema (llama.cpp, vLLM); auto: on for the local server only,
    # where a small model rarely keeps a text answer format on its own.
    structured: Literal["auto", "on", "off"] = "auto"


class ChatLabeler(Labeler):
    options: ChatLabelerOptions
    chunk_batches: ClassVar[int] = 1  # paid requests: write every batch

    def __init__(self, options: ChatLabelerOptions) -> None:
        super().__init__(options)
        check_endpoint(options.endpoint, options.model)
        # The weights' hash for a transformers endpoint: computed once, not per label.
        self.endpoint_model = endpoint_model(options.endpoint, options.model)
        self.opened = contextlib.ExitStack()
        self.client: ChatClient | None = None
        self.budget: Budget | None = None
        self.store_root: str | None = None
        self.job: dict[str, Any] = {}  # how to run this labeling again (batch collection)
        self.batch_client: Any = None
        self.batch_submit = True  # False: answer from collected batches only, send nothing

    def prepare(self, store: Any) -> None:
        self.store_root = str(store.root)

    @property
    def structured(self) -> bool:
        o = self.options
        return o.structured == "on" or (o.structured == "auto" and o.endpoint == "local")

    def endpoint_fingerprint(self) -> dict[str, Any]:
        o = self.options
        # A transformers endpoint is identified by its weights, not by where they lie.
        endpoint = "transformers" if is_transformers_endpoint(o.endpoint) else o.endpoint
        return {"endpoint": endpoint, "model": self.endpoint_model, "structured": self.structured}

    def cost_of(self, labels: list[Any]) -> float | None:
        """Dollars the labels made by this run cost, from their stored usage: 0 on a local
        server or in-process weights, None for a model the pricing table does not list."""
        from prefsmith.endpoints.pricing import usage_of

        return cost_of(self.options, (u for label in labels for u in usage_of(label.details)))

    def use_budget(self, max_usd: float) -> Budget:
        self.budget = budget_for(self.options, max_usd)
        return self.budget

    def load(self) -> None:
        if self.client is not None:
            return
        self.client = self.opened.enter_context(
            open_client(
                self.options,
                budget=self.budget,
                store_root=self.store_root,
                job=self.job,
                submit=self.batch_submit,
            )
        )
        if self.options.batch:
            self.batch_client = self.client

    def close(self) -> None:
        self.opened.close()  # stops a local server, submits a batch
        self.client = None

    def batch_summary(self) -> dict[str, Any]:
        return {"batch": self.batch_client.summary()} if self.batch_client else {}

    def ask(
        self,
        prompts: list[list[dict[str, str]]],
        sampling: dict[str, Any],
        parse: Callable[[str | None], Any],
    ) -> list[tuple[Any, ChatResult]]:
        """Answers with their parsed value; unparseable ones asked again at temperature 0."""
        results = self.client.chat_many([(p, sampling) for p in prompts])
        parsed = [parse(r.text) if r.error is None else None for r in results]
        for _ in range(self.options.parse_retries):
            again = [i for i, r in enumerate(results) if r.error is None and parsed[i] is None]
            if not again:
                break
            try:
                retry = self.client.chat_many(
                    [(prompts[i], {**sampling, "temperature": 0.0}) for i in again]
                )
            except BudgetReached as reached:  # left for a run with a larger budget
                retry = [ChatResult(None, error=f"budget: {reached}") for _ in again]
            for i, result in zip(again, retry, strict=True):
                results[i], parsed[i] = result, parse(result.text) if result.error is None else None
        return list(zip(parsed, results, strict=True))
