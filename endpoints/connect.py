"""Where chat requests go: `local` (the bundled llama.cpp server, started for the
duration), the URL of any OpenAI-compatible API (OpenAI, vLLM, TGI, llama.cpp), or
`transformers:PATH` (a checkpoint folder or GGUF file run in this process;
`transformers:bundled` for the bundled SmolLM2), for weights no server here can load."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prefsmith.endpoints.chat_client import ChatClient
from prefsmith.endpoints.weights import check_weights, weights_id
from prefsmith.schemas.errors import UserError

PREFIX = "transformers"


def transformers_path(endpoint: str) -> str | None:
    """The weights of a `transformers[:PATH]` endpoint; None for the bundled SmolLM2."""
    _, _, path = endpoint.partition(":")
    return None if path in ("", "bundled") else path


def is_transformers_endpoint(endpoint: str) -> bool:
    return endpoint == PREFIX or endpoint.startswith(PREFIX + ":")


def check_endpoint(endpoint: str, model: str | None) -> None:
    """A clear error, before anything starts, for an endpoint that can't work."""
    if endpoint == "local":
        return
    if is_transformers_endpoint(endpoint):
        if model:
            raise UserError(
                f"--model {model}: a transformers endpoint names its weights itself "
                "(--endpoint transformers:PATH)"
            )
        check_weights(transformers_path(endpoint))
        return
    if not endpoint.startswith(("http://", "https://")):
        raise UserError(
            f"--endpoint {endpoint}: expected local, transformers:PATH or an http(s) URL "
            "of an OpenAI-compatible API"
        )
    if not model:
        raise UserError("--model is required with a remote --endpoint")


def check_batch_endpoint(endpoint: str) -> None:
    """`--batch` needs a server with the Batch API: a URL, not the local or in-process model."""
    if not endpoint.startswith(("http://", "https://")):
        raise UserError(
            f"--batch needs an endpoint with the Batch API (/v1/batches, as OpenAI's), "
            f"not {endpoint}"
        )


def endpoint_model(endpoint: str, model: str | None) -> str:
    """What identifies the model answering at `endpoint` (for fingerprints and origins):
    the weights' `name@hash` for transformers endpoints, else the model name."""
    if is_transformers_endpoint(endpoint):
        return weights_id(transformers_path(endpoint))
    return model or "bundled-smollm2-135m-instruct"


@contextlib.contextmanager
def open_endpoint(endpoint: str, model: str | None, **client_options: Any) -> Iterator[Any]:
    """A ChatClient for `endpoint`; with `local`, `model` is a GGUF file (default: bundled).
    A transformers endpoint gives a `TransformersClient` (the same interface) whose batch
    size is `max_concurrency`; the rate limits don't apply to it."""
    check_endpoint(endpoint, model)
    if is_transformers_endpoint(endpoint):
        from prefsmith.endpoints.transformers_client import TransformersClient

        client = TransformersClient(
            transformers_path(endpoint), batch_size=client_options.get("max_concurrency") or 8
        )
        try:
            yield client
        finally:
            client.close()
        return
    if endpoint != "local":
        yield ChatClient(endpoint, model, **client_options)
        return
    from prefsmith.endpoints.local_server import LocalServer

    with LocalServer(model) as server:
        yield ChatClient(server.base_url, server.model_name, **client_options)
