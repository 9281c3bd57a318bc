"""Where a stage's chat requests go, and how they are sent: one model, declared once.

`GenerateConfig` (generation) and every chat labeler's options (judge, critic) extend it,
so an endpoint setting has one name, one default and one description everywhere: the run
config's key, the CLI flag and the labeler option.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class EndpointOptions(BaseModel):
    """An OpenAI-compatible endpoint (or `local`, or in-process `transformers:PATH`) and the
    client's limits, prices and Batch API switch."""

    model_config = ConfigDict(extra="forbid", frozen=True, protected_namespaces=())

    endpoint: str = Field(
        default="local",
        description="local (bundled llama.cpp), transformers:PATH (weights run here) or the "
        "URL of an OpenAI-compatible API.",
    )
    model: str | None = Field(
        default=None, description="Model name at the endpoint (local: a GGUF file)."
    )
    max_concurrency: int = Field(default=4, ge=1, description="Requests in flight.")
    timeout: float = Field(default=120.0, gt=0, description="Seconds per request.")
    requests_per_minute: float | None = Field(
        default=None, gt=0, description="Client-side request limit."
    )
    tokens_per_minute: float | None = Field(
        default=None, gt=0, description="Client-side token limit (prompt + max tokens)."
    )
    pricing: str | None = Field(
        default=None, description="Pricing table (YAML) for cost_usd (default: bundled)."
    )
    batch: bool = Field(
        default=False,
        description="Send through the endpoint's Batch API (/v1/batches): half price, "
        "results within 24 h, collected by the next run or `prefsmith batches collect`.",
    )

    @model_validator(mode="after")
    def _batch_needs_a_server(self) -> EndpointOptions:
        if self.batch and not self.endpoint.startswith(("http://", "https://")):
            raise ValueError(
                f"batch needs an endpoint with the Batch API (/v1/batches), not {self.endpoint}"
            )
        return self
