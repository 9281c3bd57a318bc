"""`label --sample SHARE`: the same share of prompts every run, whatever the labeler."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from prefsmith.labelers.runner import in_sample
from prefsmith.store import Store
from tests.cli_runner import run_json

ANSWERS = Path(__file__).parents[2] / "data" / "prompts" / "mt_bench_math_answers.jsonl"


def test_a_sample_labels_the_prompts_whose_id_falls_in_it_and_only_those(tmp_path: Path) -> None:
    store_dir = str(tmp_path / "store")
    run_json("ingest", "completions", str(ANSWERS), "--store", store_dir)
    prompts = Store(store_dir).scan("prompts").select("prompt_id").collect()["prompt_id"]
    chosen = {p for p in prompts if in_sample(p, 0.5)}
    assert 0 < len(chosen) < len(prompts)  # the share splits these ten prompts
    half = run_json("label", "--labeler", "verify-math", "--sample", "0.5", "--store", store_dir)
    labels = Store(store_dir).scan("labels").filter(pl.col("labeler") == "verify-math").collect()
    assert set(labels["prompt_id"]) == chosen and half["labeled"] == 2 * len(chosen)
    again = run_json("label", "--labeler", "verify-math", "--sample", "0.5", "--store", store_dir)
    assert (again["labeled"], again["cached"]) == (0, 2 * len(chosen))  # the same prompts
    rest = run_json("label", "--labeler", "verify-math", "--store", store_dir)
    assert rest["labeled"] == 2 * (len(prompts) - len(chosen))
