"""Judge modes on scripted servers: logprob verdicts, reference-pairwise, rate limits, and the
request payloads an OpenAI endpoint would receive (checked against the API's own parameter set)."""

import json
import math
import time

import pytest
from fake_openai import FakeOpenAI, completion
from judge_store import GOOD, make_store
from openai.types.chat import completion_create_params

from prefsmith.endpoints.chat_client import ChatClient
from prefsmith.endpoints.rate_limit import RateLimit
from prefsmith.labelers.judge_verdicts import first_wins_probability
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Prompt, load_json, to_table
from prefsmith.store import Store

API_KEYS = (
    completion_create_params.CompletionCreateParamsBase.__required_keys__
    | completion_create_params.CompletionCreateParamsBase.__optional_keys__
)
ROLES = {"system", "developer", "user", "assistant", "tool"}


def assert_conforms(body: dict, path: str, headers: dict, key: str) -> None:
    """What OpenAI's chat completions endpoint accepts: known keys, roles, ranges, auth."""
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == f"Bearer {key}"
    assert set(body) <= API_KEYS, set(body) - API_KEYS
    assert isinstance(body["model"], str) and body["model"]
    assert body["messages"] and all(
        set(m) <= {"role", "content", "name"}
        and m["role"] in ROLES
        and isinstance(m["content"], str)
        for m in body["messages"]
    )
    assert isinstance(body.get("max_tokens", 1), int) and body.get("max_tokens", 1) >= 1
    assert 0 <= body.get("temperature", 1) <= 2 and 0 < body.get("top_p", 1) <= 1
    if "top_logprobs" in body:
        assert body.get("logprobs") is True and 0 <= body["top_logprobs"] <= 20
    assert isinstance(body.get("seed", 0), int) and body.get("stream", False) is False


def logprob_reply(body):
    """Prefers the response containing GOOD with P=0.8, else leans to the first position."""
    prompt = body["messages"][-1]["content"]
    a = prompt.split("[Response A]")[1].split("[Response B]")[0]
    b = prompt.split("[Response B]")[1]
    p_a = 0.8 if GOOD in a else 0.2 if GOOD in b else 0.6
    tops = {"A": math.log(p_a * 0.9), " B": math.log((1 - p_a) * 0.9), "The": math.log(0.1)}
    return 200, completion("A" if p_a > 0.5 else "B", tops)


def test_verdict_probability_reads_only_the_verdict_letters():
    assert first_wins_probability({"A": -0.1, "B": -2.3, "X": -0.01}) == pytest.approx(
        0.9048 / (0.9048 + 0.1003), abs=1e-3
    )
    assert first_wins_probability({" a": -1.0, "B": -1.0}) == pytest.approx(0.5)
    assert first_wins_probability({"The": -0.1}) is None and first_wins_probability(None) is None


def test_logprob_mode_scores_pairs_by_verdict_probability_in_both_orders(store_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    stub = FakeOpenAI(logprob_reply)
    try:
        store = make_store(store_dir)
        options = {"endpoint": stub.url, "model": "gpt-x", "mode": "logprob"}
        summary = run_labeler(store, build_labeler("judge", options))
        assert (summary["labeled"], summary["errors"]) == (3, 0)
        # GOOD pairs agree in both orders; the third only follows the position (0.6 / 0.6).
        assert summary["consistency"] == pytest.approx(2 / 3, abs=1e-3)
        assert summary["first_position_win_rate"] == pytest.approx(4 / 6, abs=1e-3)
        content = dict(store.scan("candidates").select("candidate_id", "content").collect().rows())
        for label in store.scan("labels").collect().to_dicts():
            first, second = (content[c] for c in label["candidate_ids"])
            expected = 0.8 if first == GOOD else 0.2 if second == GOOD else 0.5
            assert label["scores"][0] == pytest.approx(expected, abs=1e-6)
            assert sum(label["scores"]) == pytest.approx(1.0)
            assert load_json(label["details"])["usage"][0]["total_tokens"] == 4
        for body, (path, headers) in zip(stub.calls, stub.requests, strict=True):
            assert_conforms(body, path, headers, "sk-test-key")
            assert body["max_tokens"] == 1 and body["logprobs"] is True
    finally:
        stub.close()


def test_logprob_mode_against_a_server_without_logprobs_stops_with_one_clear_line(store_dir):
    stub = FakeOpenAI(lambda body: (200, completion("A")))
    try:
        labeler = build_labeler("judge", {"endpoint": stub.url, "model": "m", "mode": "logprob"})
        with pytest.raises(UserError, match="no top_logprobs; use --mode pairwise"):
            run_labeler(make_store(store_dir), labeler)
        assert Store(store_dir).summary()["tables"].get("labels", 0) == 0
    finally:
        stub.close()


def test_reference_pairwise_sends_the_reference_and_skips_prompts_without_one(store_dir):
    def reply(body):
        prompt = body["messages"][-1]["content"]
        assert "Knead and bake." in prompt  # the reference answer is in the judge's prompt
        a = prompt.split("[Response A]")[1].split("[Response B]")[0]
        return 200, completion("[[A]]" if GOOD in a else "[[B]]")

    stub = FakeOpenAI(reply)
    try:
        store = make_store(store_dir)
        other = Prompt(messages=[{"role": "user", "content": "No reference here"}], source="t")
        store.write("prompts", to_table("prompts", [other]))
        options = {"endpoint": stub.url, "model": "m", "mode": "reference-pairwise"}
        summary = run_labeler(store, build_labeler("judge", options))
        # Of the three pairs, the two with GOOD agree in both orders; the other is inconsistent.
        assert summary["labeled"] == 2 and summary["inconsistent"] == 1
        assert summary["errors"] == 0 and summary["errors_by_reason"] == {}
        assert len(stub.calls) == 6
    finally:
        stub.close()


def test_rate_limits_hold_requests_and_tokens_per_minute():
    bucket = RateLimit(60)  # one per second, a minute's burst
    assert [bucket.reserve() for _ in range(60)] == [0.0] * 60
    assert bucket.reserve() == pytest.approx(1.0, abs=0.05)
    tokens = RateLimit(600)
    assert tokens.reserve(500) == 0.0 and tokens.reserve(200) == pytest.approx(10.0, abs=0.1)

    stub = FakeOpenAI(lambda body: (200, completion("ok")))
    try:
        client = ChatClient(stub.url, "m", requests_per_minute=120, max_concurrency=8)
        client.request_limit.level = 0  # start empty: every request waits its turn (2/s)
        started = time.monotonic()
        results = client.chat_many([([{"role": "user", "content": "hi"}], {})] * 4)
        assert all(r.text == "ok" for r in results)
        assert time.monotonic() - started >= 1.5
    finally:
        stub.close()


def test_generate_payloads_conform_to_the_api(store_dir, monkeypatch):
    from prefsmith.generation.candidates import generate_candidates
    from prefsmith.schemas.records import Prompt

    monkeypatch.setenv("OPENAI_API_KEY", "sk-gen")
    stub = FakeOpenAI(
        lambda body: (200, completion(f"answer {body['seed']} {len(body['messages'])}"))
    )
    try:
        store = Store(store_dir)
        prompt = Prompt(
            messages=[
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Q1"},
            ],
            source="t",
            followups=["Q2"],
        )
        store.write("prompts", to_table("prompts", [prompt]))
        client = ChatClient(stub.url, "gpt-x", tokens_per_minute=100_000)
        sampling = {"temperature": 0.7, "top_p": 0.9, "max_tokens": 16, "seed": 3}
        summary = generate_candidates(store, client, n=2, sampling=sampling)
        assert summary["generated"] == 2 and len(stub.calls) == 4
        for body, (path, headers) in zip(stub.calls, stub.requests, strict=True):
            assert_conforms(body, path, headers, "sk-gen")
        assert sorted(c["seed"] for c in stub.calls) == [3, 3, 4, 4]
        assert [m["role"] for m in stub.calls[-1]["messages"]] == [
            "system",
            "user",
            "assistant",
            "user",
        ]
    finally:
        stub.close()


def test_structured_output_asks_for_a_schema_and_reads_the_json(store_dir):
    from prefsmith.labelers.judge import parse_score, parse_verdict

    assert parse_verdict('{"explanation": "x", "verdict": "B"}') == "B"
    assert parse_verdict('{"verdict": "D"}') is None and parse_score('{"score": 4}') == 4
    assert parse_score('{"score": 9}') is None and parse_score('{"score": true}') is None

    def reply(body):
        schema = body["response_format"]["schema"]
        prompt = body["messages"][-1]["content"]
        assert prompt.endswith("}.") and body["response_format"]["type"] == "json_object"
        if "verdict" in schema["properties"]:
            a = prompt.split("[Response A]")[1].split("[Response B]")[0]
            return 200, completion(
                json.dumps({"explanation": "-", "verdict": "A" if GOOD in a else "B"})
            )
        return 200, completion(json.dumps({"explanation": "-", "score": 4}))

    stub = FakeOpenAI(reply)
    try:
        store = make_store(store_dir)
        options = {"endpoint": stub.url, "model": "m", "structured": "on"}
        pairwise = run_labeler(store, build_labeler("judge", options))
        assert pairwise["judged_in_both_orders"] == 3 and pairwise["labeled"] == 2
        single = run_labeler(store, build_labeler("judge", {**options, "mode": "single"}))
        assert (single["labeled"], single["errors"]) == (3, 0)
    finally:
        stub.close()
    remote = build_labeler("judge", {"endpoint": "http://x/v1", "model": "m"})
    assert not remote.structured and build_labeler("judge", {}).structured  # auto: local only
