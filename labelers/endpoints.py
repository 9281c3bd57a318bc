"""Where chat requests go: `local` (the bundled llama.cpp server, started for the
duration) or the URL of any OpenAI-compatible API (OpenAI, vLLM, TGI, llama.cpp)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from prefsmith.labelers.chat_client import ChatClient
from prefsmith.schemas.errors import UserError


def check_endpoint(endpoint: str, model: str | None) -> None:
    """A clear error, before anything starts, for an endpoint that can't work."""
    if endpoint == "local":
        return
    if not endpoint.startswith(("http://", "https://")):
        raise UserError(
            f"--endpoint {endpoint}: expected local or an http(s) URL of an OpenAI-compatible API"
        )
    if not model:
        raise UserError("--model is required with a remote --endpoint")


@contextlib.contextmanager
def open_endpoint(endpoint: str, model: str | None, **client_options: Any) -> Iterator[ChatClient]:
    """A ChatClient for `endpoint`; with `local`, `model` is a GGUF file (default: bundled)."""
    check_endpoint(endpoint, model)
    if endpoint != "local":
        yield ChatClient(endpoint, model, **client_options)
        return
    from prefsmith.labelers.local_server import LocalServer

    with LocalServer(model) as server:
        yield ChatClient(server.base_url, server.model_name, **client_options)
