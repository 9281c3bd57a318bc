"""`ingest completions`: UltraFeedback's raw rows and HelpSteer2's flat rows (fixtures copied
from their cards' documented shape), the generic layout, ratings as score labels, aspects."""

import json
from pathlib import Path

import polars as pl
import pytest
from cli_runner import run_json

from prefsmith.ingest.judged_sources import check_completions, ingest_completion_file
from prefsmith.ingest.sources import RowBudget
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store import Store

WORLD = Path(__file__).parents[1] / "data" / "world"


def ingest(store: Store, **settings) -> dict:
    checked = check_completions(**settings)
    budget = RowBudget(None)
    reports = [
        ingest_completion_file(store, checked, source, layout, budget).to_dict()
        for source, layout in checked.files
    ]
    return {"layouts": [layout.name for _, layout in checked.files], **reports[0]}


def test_ultrafeedback_raw_rows(store_dir):
    store = Store(store_dir)
    summary = ingest(store, source=str(WORLD / "ultrafeedback.jsonl"))
    rows = [json.loads(line) for line in (WORLD / "ultrafeedback.jsonl").read_text().splitlines()]
    completions = [c for row in rows for c in row["completions"]]
    assert summary["layouts"] == ["ultrafeedback"]
    assert summary["added"]["prompts"] == len(rows)
    assert summary["added"]["candidates"] == len(completions)
    candidates = store.scan("candidates").collect()
    assert {f"ultrafeedback:{c['model']}" for c in completions} == set(candidates["origin"])
    labels = store.scan("labels").filter(pl.col("labeler") == "ultrafeedback").collect()
    assert labels.height == len(completions)
    by_text = dict(candidates.select("candidate_id", "content").iter_rows())
    for label in labels.to_dicts():
        completion = next(
            c for c in completions if c["response"] == by_text[label["candidate_ids"][0]]
        )
        ratings = {a: v["Rating"] for a, v in completion["annotations"].items()}
        numbers = {a: float(r) for a, r in ratings.items() if r != "N/A"}  # "N/A" is no rating
        aspects = load_json(label["details"])["aspect_scores"]
        assert aspects == {a: [v] for a, v in numbers.items()}
        assert label["scores"] == [pytest.approx(sum(numbers.values()) / len(numbers))]
    assert sum(ingest(store, source=str(WORLD / "ultrafeedback.jsonl"))["added"].values()) == 0


def test_helpsteer2_flat_rows_grouped_by_prompt(store_dir):
    store = Store(store_dir)
    summary = ingest(store, source=str(WORLD / "helpsteer2.jsonl"))
    rows = [json.loads(line) for line in (WORLD / "helpsteer2.jsonl").read_text().splitlines()]
    assert summary["layouts"] == ["helpsteer2"]
    assert store.count("prompts") == len({row["prompt"] for row in rows})
    assert store.count("candidates") == len(rows)
    multi_turn = next(row["prompt"] for row in rows if "<extra_id_1>" in row["prompt"])
    messages = store.scan("prompts").collect()["messages"].to_list()
    roles = next(m for m in messages if m[0]["content"] == multi_turn.split("\n")[0])
    assert [m["role"] for m in roles] == ["user", "assistant", "user"]
    helpfulness = {row["response"]: row["helpfulness"] for row in rows}
    labels = store.scan("labels").collect()
    texts = dict(store.scan("candidates").select("candidate_id", "content").collect().iter_rows())
    for label in labels.to_dicts():
        aspects = load_json(label["details"])["aspect_scores"]
        assert aspects["helpfulness"] == [helpfulness[texts[label["candidate_ids"][0]]]]
    assert sum(ingest(store, source=str(WORLD / "helpsteer2.jsonl"))["added"].values()) == 0


def test_generic_layout_with_reference_and_named_ratings(store_dir, write_jsonl):
    path = write_jsonl("generic.jsonl", [
        {"prompt": "2+2?", "reference": "4",
         "completions": [{"text": "4", "model": "m1", "grade": {"score": 5}},
                         {"text": "5", "model": "m2", "grade": {"score": 1}}]},
        {"prompt": "", "completions": [{"text": "x"}]},
        {"prompt": "Hi", "completions": "not a list"},
        {"prompt": "Hi", "completions": [{"text": " "}]},
    ])  # fmt: skip
    store = Store(store_dir)
    summary = ingest(store, source=str(path), ratings=["grade.score=teacher"])
    assert summary["rejects_by_reason"] == {
        "missing_prompt": 1,
        "malformed_completions": 1,
        "no_completions": 1,
    }
    assert store.scan("prompts").collect()["reference"].to_list() == ["4"]
    labels = store.scan("labels").collect()
    assert sorted(labels["scores"].to_list()) == [[1.0], [5.0]]
    assert set(labels["labeler"]) == {"teacher"}


def test_a_missing_prompt_column_is_one_line(write_jsonl):
    path = write_jsonl("odd.jsonl", [{"question": "x", "answers": []}])
    with pytest.raises(UserError, match="--prompt-field"):
        check_completions(source=str(path))


def test_ratings_are_gold_for_eval_by_aspect_and_origin(store_dir):
    store = str(store_dir)
    run_json("ingest", "completions", str(WORLD / "ultrafeedback.jsonl"), "--store", store)
    report = run_json("eval", "labelers", "--store", store, "--gold", "ultrafeedback:helpfulness",
                      "--labelers", "ultrafeedback:honesty", "--by", "origin")  # fmt: skip
    figures = report["labelers"]["ultrafeedback:honesty"]
    assert report["gold_pairs"] > 0 and figures["n"] > 0
    assert all(" vs " in group for group in figures["groups"])
