"""Cost accounting: a run's cost_usd is the sum over its stored usage times the pricing table;
a cached rerun costs 0; an unlisted model's cost is unknown, never guessed; local is free."""

import json

import pytest
from fake_openai import FakeOpenAI, completion
from judge_store import make_store

from prefsmith.endpoints.pricing import cost_usd, load_pricing, price_of, usage_of
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json


def usage_reply(body):
    answer = completion(f"Fine (sample {body.get('seed')}).\nScore: 4")
    answer["usage"] = {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    return 200, answer


def test_a_paid_run_costs_its_stored_usage_at_the_table_s_prices_and_a_rerun_nothing(store_dir):
    stub = FakeOpenAI(usage_reply)
    try:
        store = make_store(store_dir)
        options = {"endpoint": stub.url, "model": "gpt-4o-mini-2024-07-18", "mode": "single"}
        first = run_labeler(store, build_labeler("judge", options))
        again = run_labeler(store, build_labeler("judge", options))
    finally:
        stub.close()
    labels = store.scan("labels").collect().to_dicts()
    usages = [u for label in labels for u in usage_of(load_json(label["details"]))]
    price = load_pricing()["gpt-4o-mini"]  # a dated snapshot takes its family's price
    expected = sum(u["prompt_tokens"] * price.input + u["completion_tokens"] * price.output
                   for u in usages) / 1e6  # fmt: skip
    assert first["cost_usd"] == pytest.approx(expected) and expected > 0
    assert again["cost_usd"] == 0.0 and again["cached"] == 3


def test_an_unlisted_model_has_an_unknown_cost_and_local_is_free(store_dir, tmp_path):
    stub = FakeOpenAI(usage_reply)
    try:
        store = make_store(store_dir)
        options = {"endpoint": stub.url, "model": "my-finetune", "mode": "single"}
        assert run_labeler(store, build_labeler("judge", options))["cost_usd"] is None
    finally:
        stub.close()
    table = tmp_path / "prices.yaml"
    table.write_text("my-finetune: {input: 1.0, output: 2.0}\n")
    priced = load_pricing(table)
    assert cost_usd(price_of(priced, "my-finetune"), [{"prompt_tokens": 10**6}]) == 1.0
    batch = load_pricing()["gpt-4o"]
    assert cost_usd(batch, [{"completion_tokens": 10**6}], batch=True) == 5.0
    table.write_text("my-finetune: {input: cheap}\n")
    with pytest.raises(UserError, match="pricing"):
        load_pricing(table)


def test_the_run_summary_adds_costs_by_labeler():
    from prefsmith.runs.costs import run_costs

    stages = [
        {"stage": "generate", "cost_usd": 0.5},
        {"stage": "label", "labeler": "judge", "cost_usd": 0.25},
        {"stage": "label", "labeler": "rm"},
        {"stage": "label", "labeler": "judge-x", "cost_usd": None},
    ]
    costs = run_costs(stages)
    assert costs == {"cost_usd": 0.75, "cost_usd_by_labeler": {"judge": 0.25},
                     "cost_unknown": ["judge-x"]}  # fmt: skip
    assert json.dumps(costs)


def test_generate_reports_what_its_requests_cost(store_dir):
    from cli_runner import run_json

    stub = FakeOpenAI(usage_reply)
    try:
        make_store(store_dir)
        args = ["generate", "--store", str(store_dir), "--endpoint", stub.url, "--model", "gpt-4o",
                "--n", "2", "--temperature", "0.7"]  # fmt: skip
        first = run_json(*args)
        again = run_json(*args)
    finally:
        stub.close()
    price = load_pricing()["gpt-4o"]
    per_request = (1000 * price.input + 200 * price.output) / 1e6
    assert first["generated"] == 2 and first["cost_usd"] == pytest.approx(2 * per_request)
    assert again["generated"] == 0 and again["cost_usd"] == 0.0
