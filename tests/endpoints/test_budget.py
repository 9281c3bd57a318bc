"""Budgets and dry runs: `--max-cost` stops a paid judge within one batch of its budget and
never past it in the worst-case accounting, and a rerun with a larger budget finishes with
nothing labeled twice; `--dry-run` sends nothing and counts what the real run then sends."""

from pathlib import Path

import pytest
from fake_openai import FakeOpenAI, completion

from prefsmith.endpoints.budget import Budget
from prefsmith.endpoints.pricing import cost_usd, load_pricing
from prefsmith.endpoints.token_counts import token_counter
from prefsmith.ingest.prompt_sets import check_prompt_source, ingest_prompt_rows
from prefsmith.ingest.sources import iter_file
from prefsmith.labelers.dry_run import plan_labeling
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Prompt, load_json, to_table
from prefsmith.store import Store

MODEL = "gpt-4o-mini"
MT_BENCH = Path(__file__).parents[1] / "data" / "mt_bench_questions_18.jsonl"


def counted_reply(body):
    """A judge's answer whose usage is what OpenAI would bill: the prompt counted server-side
    with the model's tokenizer, and an answer shorter than max_tokens."""
    answer = completion("The answer is helpful.\nScore: 4")
    prompt = token_counter("https://api.openai.com/v1", MODEL).count(body["messages"])
    answer["usage"] = {
        "prompt_tokens": prompt,
        "completion_tokens": 12,
        "total_tokens": prompt + 12,
    }
    return 200, answer


def many_candidates(store_dir, prompts: int = 20) -> Store:
    store = Store(store_dir)
    rows = [Prompt(messages=[{"role": "user", "content": f"Question {i}: " + "why? " * i}],
                   source="t") for i in range(prompts)]  # fmt: skip
    store.write("prompts", to_table("prompts", rows))
    answers = [Candidate(p.prompt_id, f"Answer {i} " + "because. " * (i % 5), "t")
               for i, p in enumerate(rows)]  # fmt: skip
    store.write("candidates", to_table("candidates", answers))
    return store


def judge(url, **extra):
    return build_labeler(
        "judge", {"endpoint": url, "model": MODEL, "mode": "single", "batch_size": 4,
                  "max_tokens": 64, **extra},
    )  # fmt: skip


def test_max_cost_stops_within_one_batch_never_past_it_and_a_rerun_finishes_once(store_dir):
    stub = FakeOpenAI(counted_reply)
    try:
        store = many_candidates(store_dir)
        price = load_pricing()[MODEL]
        labeler = judge(stub.url)
        worst_batch = max(
            Budget(1.0, price, token_counter(stub.url, MODEL)).worst_case(
                [(labeler._prompt(item, item.contents[0]), {"max_tokens": 64})
                 for item in chunk]
            )
            for chunk in _batches(store, labeler, 4)
        )  # fmt: skip
        max_cost = 2.5 * worst_batch
        first = run_labeler(store, labeler, max_cost=max_cost)
        assert first["stopped"] == "budget"
        assert first["spent_usd"] <= max_cost  # never past the budget...
        assert first["spent_usd"] > max_cost - worst_batch  # ...and stopped within one batch
        assert 0 < first["labeled"] < 20 and first["labeled"] % 4 == 0
        assert first["cost_usd"] <= max_cost
        sent_first = len(stub.calls)
        assert sent_first == first["labeled"]
        again = run_labeler(store, judge(stub.url), max_cost=1.0)
        assert "stopped" not in again and again["labeled"] == 20 - first["labeled"]
    finally:
        stub.close()
    labels = store.scan("labels").collect()
    assert labels.height == 20 and labels["label_id"].n_unique() == 20  # 0 duplicated labels
    assert len(stub.calls) == 20  # nothing asked twice


def _batches(store, labeler, size):
    from prefsmith.labelers.runner import pending_items

    _, pending, _, _, _ = pending_items(store, labeler)
    return [pending[i : i + size] for i in range(0, len(pending), size)]


def test_a_budget_needs_a_price_and_a_paid_labeler(store_dir):
    with pytest.raises(UserError, match="no price for model my-finetune"):
        build_labeler("judge", {"endpoint": "http://h/v1", "model": "my-finetune"}).use_budget(1)
    with pytest.raises(UserError, match="calls no paid endpoint"):
        build_labeler("reward_model", {"model": "x"}).use_budget(1)
    local = build_labeler("judge", {"endpoint": "local"}).use_budget(0.0)
    local.admit([([{"role": "user", "content": "hi"}], {"max_tokens": 10})])  # free: fits 0


def test_dry_run_sends_nothing_and_counts_what_the_run_then_sends(store_dir):
    stub = FakeOpenAI(counted_reply)
    try:
        store = many_candidates(store_dir, prompts=6)
        options = {"mode": "pairwise"}
        store.write("candidates", to_table("candidates", [
            Candidate(c["prompt_id"], "Another answer.", "u")
            for c in store.scan("candidates").collect().to_dicts()
        ]))  # fmt: skip
        plan = plan_labeling(store, judge(stub.url, **options))
        assert len(stub.calls) == 0 and store.count("labels") == 0
        assert (plan["requests"], plan["to_label"]) == (12, 6)  # both orders of 6 pairs
        assert plan["max_output_tokens"] == 12 * 64
        summary = run_labeler(store, judge(stub.url, **options))
        billed = sum(call_usage["prompt_tokens"] for call_usage in _usages(store))
        assert plan["input_tokens"] == billed  # the same tokenizer: exactly
        assert plan["cost_usd_min"] <= summary["cost_usd"] <= plan["cost_usd_max"]
        after = plan_labeling(store, judge(stub.url, **options))
        assert (after["requests"], after["cached"]) == (0, 6)
    finally:
        stub.close()


def _usages(store):
    from prefsmith.endpoints.pricing import usage_of

    details = store.scan("labels").collect()["details"].to_list()
    return [u for d in details for u in usage_of(load_json(d))]


@pytest.mark.slow
def test_dry_run_input_tokens_are_within_5_percent_of_the_llama_cpp_server_s(
    store_dir, llama_server
):
    """On the bundled MT-Bench slice: generation (first turns) and a judge, both counted
    before and then billed by the server with its own tokenizer."""
    from prefsmith.endpoints.budget import RequestPlan
    from prefsmith.endpoints.chat_client import ChatClient
    from prefsmith.generation.candidates import (
        generate_candidates,
        missing_samples,
        origin_of,
        plan_generation,
    )

    store = Store(store_dir)
    checked = check_prompt_source(source=str(MT_BENCH), format="mt-bench", limit=6)
    source, plan_rows = checked.files[0]
    rows = (row for _, row in zip(range(6), iter_file(source), strict=False))
    ingest_prompt_rows(rows, store, plan_rows, source_key="k", source_name="mt-bench")
    sampling = {"temperature": 0.0, "max_tokens": 24, "seed": 0}
    client = ChatClient(llama_server.base_url, llama_server.model_name, max_concurrency=2)
    origin = origin_of(client.model, sampling)
    _, work, _ = missing_samples(store, origin, n=1, first_turn_only=True)
    generation_plan = RequestPlan(token_counter("local", None), None)
    plan_generation(generation_plan, work, sampling)
    generated = generate_candidates(store, client, n=1, sampling=sampling, first_turn_only=True)
    assert generated["generated"], generated["errors_by_reason"]
    served = generated["usage"]["prompt_tokens"]
    assert abs(generation_plan.input_tokens - served) <= 0.05 * served

    options = {"endpoint": "local", "mode": "single", "max_tokens": 16, "parse_retries": 0}
    local_judge = build_labeler("judge", options)
    labeling_plan = plan_labeling(store, local_judge)
    run_labeler(store, local_judge)
    billed = sum(u.get("prompt_tokens", 0) for u in _usages(store))
    assert labeling_plan["requests"] == 6 and billed > 0
    assert abs(labeling_plan["input_tokens"] - billed) <= 0.05 * billed


def test_cost_of_the_worst_case_is_priced_at_the_batch_discount():
    price = load_pricing()[MODEL]
    budget = Budget(1.0, price, token_counter("https://x/v1", MODEL), batch=True)
    usage = {"prompt_tokens": 1000, "completion_tokens": 100}
    assert budget.priced(1000, 100) == cost_usd(price, [usage], batch=True)


def test_an_attempt_that_timed_out_is_charged_and_retried_only_within_the_budget():
    """A timeout may be billed: its worst case is spent, and the retry is made only if the
    budget still has room for it."""
    from prefsmith.endpoints.chat_client import ChatClient

    asked = []

    def slow_then_fast(body):
        asked.append(1)
        return ("slow", 1.0) if len(asked) == 1 else counted_reply(body)

    stub = FakeOpenAI(slow_then_fast)
    try:
        request = ([{"role": "user", "content": "Hello there"}], {"max_tokens": 100})
        price = load_pricing()[MODEL]
        worst = Budget(1.0, price, token_counter(stub.url, MODEL)).worst_case([request])
        roomy = Budget(3 * worst, price, token_counter(stub.url, MODEL))
        client = ChatClient(stub.url, MODEL, timeout=0.3, backoff=0.01, max_retries=2)
        client.budget = roomy
        (answer,) = client.chat_many([request])
        assert answer.error is None and len(asked) == 2
        assert worst < roomy.spent <= 2 * worst and roomy.reserved == 0  # timeout + answer
        asked.clear()
        tight = Budget(1.5 * worst, price, token_counter(stub.url, MODEL))
        client.budget = tight
        (refused,) = client.chat_many([request])
        assert refused.error.startswith("budget:") and len(asked) == 1
        assert tight.spent == pytest.approx(worst) and tight.reserved == 0 and tight.reached
    finally:
        stub.close()
