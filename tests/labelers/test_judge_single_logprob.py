"""`judge --mode single-logprob`: the additive rubric's score as the expected digit of one
answer token, from a scripted server, the in-process transformers endpoint and llama.cpp."""

import math

import pytest
from fake_openai import FakeOpenAI, completion
from judge_store import BAD, GOOD, make_store
from tiny_judge import make_tiny_judge

from prefsmith.labelers.judge_verdicts import expected_digit_score
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json


@pytest.fixture(scope="session")
def tiny_judge(tiny_chat_model, tmp_path_factory):
    return make_tiny_judge(tiny_chat_model, tmp_path_factory.mktemp("tiny-judge"))


def test_the_score_is_the_expected_digit_under_renormalised_probabilities():
    score, probabilities, mass = expected_digit_score(
        {"3": math.log(0.5), " 4": math.log(0.25), "The": math.log(0.2), "10": math.log(0.05)}
    )
    assert score == pytest.approx(3 + 1 / 3) and mass == pytest.approx(0.75)
    assert probabilities == pytest.approx({"1": 0, "2": 0, "3": 2 / 3, "4": 1 / 3, "5": 0})
    assert expected_digit_score({"The": -0.1, "A": -2.0}) is None
    assert expected_digit_score(None) is None


def digit_reply(body):
    """P(5) = 0.6 for the good answer, P(1) = 0.6 for the bad one; no digit for the third."""
    prompt = body["messages"][-1]["content"]
    if GOOD in prompt:
        return 200, completion("5", {"5": math.log(0.6), "4": math.log(0.2), "I": math.log(0.2)})
    if BAD in prompt:
        return 200, completion("1", {"1": math.log(0.6), " 2": math.log(0.3), "I": -3.0})
    return 200, completion("The", {"The": -0.1, "I": -2.5})


def test_single_logprob_grades_each_answer_from_one_token(store_dir):
    stub = FakeOpenAI(digit_reply)
    try:
        store = make_store(store_dir)
        options = {"endpoint": stub.url, "model": "m", "mode": "single-logprob"}
        summary = run_labeler(store, build_labeler("judge", options))
        assert (summary["labeled"], summary["errors_by_reason"]) == (2, {"no_score_tokens": 1})
        assert all(b["max_tokens"] == 1 and b["top_logprobs"] == 20 for b in stub.calls)
        assert all("a single digit from 1 to 5" in b["messages"][-1]["content"] for b in stub.calls)
        assert "response_format" not in stub.calls[0]  # nothing to parse: no JSON schema
        content = dict(store.scan("candidates").select("candidate_id", "content").collect().rows())
        scores = {}
        for label in store.scan("labels").collect().to_dicts():
            assert label["kind"] == "score"
            scores[content[label["candidate_ids"][0]]] = label["scores"]
            if label["error"] is None:
                assert load_json(label["details"])["digit_probabilities"]
        assert scores[GOOD][0] == pytest.approx((5 * 0.6 + 4 * 0.2) / 0.8)
        assert scores[BAD][0] == pytest.approx((1 * 0.6 + 2 * 0.3) / 0.9)
        assert summary["mean_score"] == pytest.approx(
            (scores[GOOD][0] + scores[BAD][0]) / 2, abs=1e-4
        )
    finally:
        stub.close()


def test_single_logprob_against_a_server_without_logprobs_says_which_mode_to_use(store_dir):
    stub = FakeOpenAI(lambda body: (200, completion("Score: 4")))
    try:
        labeler = build_labeler(
            "judge", {"endpoint": stub.url, "model": "m", "mode": "single-logprob"}
        )
        with pytest.raises(UserError, match="no top_logprobs; use --mode single with it"):
            run_labeler(make_store(store_dir), labeler)
    finally:
        stub.close()


def test_single_logprob_through_the_transformers_endpoint(store_dir, tiny_judge):
    store = make_store(store_dir)
    options = {"endpoint": f"transformers:{tiny_judge}", "mode": "single-logprob"}
    labeler = build_labeler("judge", options)
    summary = run_labeler(store, labeler)
    assert (summary["labeled"], summary["errors"]) == (3, 0)
    scores = [label["scores"][0] for label in store.scan("labels").collect().to_dicts()]
    assert all(1.0 <= s <= 5.0 for s in scores) and len(set(scores)) == 3
    again = run_labeler(store, build_labeler("judge", options))
    assert (again["labeled"], again["cached"]) == (0, 3)  # same weights: same fingerprint


@pytest.mark.slow
def test_single_logprob_through_a_real_llama_cpp_server(store_dir, llama_server):
    store = make_store(store_dir)
    options = {"endpoint": llama_server.base_url, "model": llama_server.model_name}
    summary = run_labeler(store, build_labeler("judge", {**options, "mode": "single-logprob"}))
    assert summary["labeled"] + summary["errors_by_reason"].get("no_score_tokens", 0) == 3
    assert summary["labeled"] >= 1 and 1.0 <= summary["mean_score"] <= 5.0
