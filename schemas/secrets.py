"""Secrets never stored or logged: error texts pass through `scrub` before they reach the store,
a log line, a report or Prefect. It removes the values of the configured keys (the environment
variables prefsmith reads credentials from) and anything shaped like a key."""

from __future__ import annotations

import os
import re

REDACTED = "[REDACTED]"
SECRET_VARIABLES = (
    "OPENAI_API_KEY", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "LABEL_STUDIO_API_KEY",
    "ANTHROPIC_API_KEY", "PREFECT_API_KEY",
)  # fmt: skip
_KEY_SHAPED = re.compile(
    r"\bsk-[A-Za-z0-9_\-*]{8,}"  # OpenAI and compatible servers (masked forms too)
    r"|\bhf_[A-Za-z0-9]{8,}"  # Hugging Face
    r"|\b(?:Bearer|Token)\s+[A-Za-z0-9._\-+/=]{8,}"  # Authorization header values
    r"|\b(?:api[_-]?key|token|secret|password)=[^\s&\"']{8,}",  # keys in URLs and forms
    re.IGNORECASE,
)


def configured_secrets() -> list[str]:
    """The values of the credentials in the environment (long enough to be keys)."""
    return [v for name in SECRET_VARIABLES if len(v := os.environ.get(name, "")) >= 8]


def scrub(text: str | None, secrets: list[str] | None = None) -> str | None:
    """`text` with every configured key's value and every key-shaped string replaced."""
    if not text:
        return text
    for secret in sorted({*configured_secrets(), *(secrets or [])}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _KEY_SHAPED.sub(_redact, text)


def _redact(found: re.Match[str]) -> str:
    text = found.group(0)
    for prefix in ("Bearer ", "Token "):
        if text.lower().startswith(prefix.lower()):
            return text[: len(prefix)] + REDACTED
    if "=" in text and not text.lower().startswith(("sk-", "hf_")):
        return text.split("=", 1)[0] + "=" + REDACTED
    return REDACTED
