"""Secrets a flow reads at run time: from the environment, else a Prefect Secret block, never
from configuration (so they never reach a manifest, a card or a log)."""

from __future__ import annotations

import os


def hub_token(token_secret: str | None) -> str | None:
    """HF_TOKEN, else the Prefect Secret block named `token_secret`, else None."""
    if os.environ.get("HF_TOKEN"):
        return os.environ["HF_TOKEN"]
    if token_secret:
        from prefect.blocks.system import Secret

        return Secret.load(token_secret).get()
    return None
