"""Where prefsmith's own files lie, and the names it uses when none is given: one place, so a
moved folder or a renamed default is one edit."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
# Prompt templates, rubrics, Label Studio configs, card and report templates, the price table:
# data, not code (lm-evaluation-harness's rule), shipped as package data.
TEMPLATES = PACKAGE / "templates"
CONFIGS = PACKAGE / "configs"
PROMPT_SETS = PACKAGE / "data" / "prompts"
# Benchmarks prefsmith ships, by the name `--decontaminate` and `check contamination` take:
# their prompts and reference answers, whether or not a store holds them.
BUNDLED_BENCHMARKS = {
    "mt-bench": (PROMPT_SETS / "mt_bench_questions.jsonl",
                 PROMPT_SETS / "mt_bench_reference_answers.jsonl"),
    "vicuna": (PROMPT_SETS / "vicuna_bench_questions.jsonl",),
}  # fmt: skip
DEFAULT_STORE = "prefsmith-store"  # the store of every command given no --store
# In a model folder trained by prefsmith: the pairs it was trained on (prompt_id, chosen_id,
# rejected_id), so no evaluation scores it on them.
TRAINING_PAIRS = "training-pairs.parquet"
