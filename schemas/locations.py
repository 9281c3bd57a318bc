"""Where prefsmith's own files lie, and the names it uses when none is given: one place, so a
moved folder or a renamed default is one edit."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# Prompt templates, rubrics, Label Studio configs, card and report templates, the price table:
# data, not code (lm-evaluation-harness's rule), shipped as package data.
TEMPLATES = PACKAGE / "templates"
CONFIGS = PACKAGE / "configs"
DEFAULT_STORE = "prefsmith-store"  # the store of every command given no --store
