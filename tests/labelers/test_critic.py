"""The critic: spans located exactly or tolerantly (unlocatable ones reported), malformed output
re-asked then `invalid_json`, the scalar label shown, JSON mode asked for; token rewards exactly
as long as the response's tokens; a real llama.cpp critic."""

import json

import pytest
from fake_openai import FakeOpenAI, completion
from judge_store import BAD, GOOD, make_store

from prefsmith.builders.spans import locate, parse_critique, token_rewards
from prefsmith.builders.token_rewards import build_token_rewards
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.builds import TokenRewardsBuildConfig
from prefsmith.schemas.records import Label, load_json, to_table


def test_quotes_are_located_exactly_then_tolerantly_never_guessed():
    text = "Knead the dough,  let it rise, bake at 220C."
    assert locate(text, "let it rise") == (18, 29)
    start, end = locate(text, "DOUGH, LET it")  # case and the double space ignored
    assert text[start:end] == "dough,  let it"
    assert locate(text, "\u201cbake at 220C\u201d") == (31, 43)
    assert locate(text, "fry it") is None and locate(text, "  ") is None
    assert parse_critique('Sure! {"positive": ["a"], "negative": []} done') == {
        "positive": ["a"],
        "negative": [],
    }
    assert parse_critique('{"positive": "a"}') == {"positive": ["a"], "negative": []}
    assert parse_critique("no json") is None and parse_critique('{"positive": [1]}') is None


def test_token_rewards_follow_the_threshold_and_negative_wins():
    offsets = [(0, 4), (4, 8), (8, 12)]
    spans = [
        {"start": 0, "end": 6, "polarity": "positive"},
        {"start": 6, "end": 12, "polarity": "negative"},
    ]
    assert token_rewards(offsets, spans) == [1.0, -1.0, -1.0]  # token 2 is half and half: negative
    assert token_rewards(offsets, spans, threshold=0.75) == [1.0, 0.0, -1.0]


@pytest.fixture
def critic_server():
    def reply(body):
        prompt = body["messages"][-1]["content"]
        response = prompt.split("[Response]\n")[1].split("\n")[0]
        if response == BAD:  # never valid: prose first, then broken JSON at temperature 0
            return 200, completion("No JSON today." if body["temperature"] else "{oops")
        if GOOD in response:
            return 200, completion(
                json.dumps({"positive": ["let it rise"], "negative": ["bake at 900C"]})
            )
        return 200, completion(json.dumps({"positive": [], "negative": ["buy bread"]}))

    stub = FakeOpenAI(reply)
    yield stub
    stub.close()


def test_critic_labels_spans_and_reports_what_it_cannot_locate(store_dir, critic_server):
    store = make_store(store_dir)
    scores = [
        Label("rm", "fp", "score", pid, [cid], [0.5])
        for pid, cid in store.scan("candidates")
        .select("prompt_id", "candidate_id")
        .collect()
        .rows()
    ]
    store.write("labels", to_table("labels", scores))
    options = {
        "endpoint": critic_server.url,
        "model": "critic",
        "with_label": "rm",
        "temperature": 0.7,
    }
    summary = run_labeler(store, build_labeler("critic", options))
    assert (summary["labeled"], summary["errors_by_reason"]) == (2, {"invalid_json": 1})
    body = critic_server.calls[0]
    assert body["response_format"] == {"type": "json_object"}
    assert "reward of 0.500 from rm" in body["messages"][0]["content"]
    assert [c["temperature"] for c in critic_server.calls].count(0.0) == 2  # BAD re-asked twice
    content = dict(store.scan("candidates").select("candidate_id", "content").collect().rows())
    rows = store.scan("labels").collect().to_dicts()
    (good,) = [
        r for r in rows if r["labeler"] == "critic" and content[r["candidate_ids"][0]] == GOOD
    ]
    details = load_json(good["details"])
    assert details["spans"][0]["text"] == "let it rise" and details["unlocated"] == [
        {"quote": "bake at 900C", "polarity": "negative"}
    ]
    assert good["scores"][0] == pytest.approx(len("let it rise") / len(GOOD), abs=1e-6)
    asked = len(critic_server.calls)
    assert run_labeler(store, build_labeler("critic", options))["cached"] == 3  # errors are final
    assert len(critic_server.calls) == asked


def test_token_rewards_dataset_rows_match_the_tokenizer(store_dir, critic_server):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from prefsmith.bundled import smollm2_tokenizer

    store = make_store(store_dir)
    run_labeler(store, build_labeler("critic", {"endpoint": critic_server.url, "model": "c"}))
    tokenizer = str(smollm2_tokenizer())
    config = TokenRewardsBuildConfig(name="dense", tokenizer=tokenizer, splits={"train": 1.0})
    summary = build_token_rewards(store, config)
    assert summary["rows"] == 2 and summary["drops"] == {"label_error": 1}
    rows = Dataset.from_parquet(f"{summary['path']}/data/train-00000-of-00001.parquet")
    encode = AutoTokenizer.from_pretrained(tokenizer)
    for row in rows:
        ids = encode(row["completion"], add_special_tokens=False)["input_ids"]
        assert row["token_ids"] == ids and len(row["token_rewards"]) == len(ids)
    good = next(r for r in rows if r["completion"] == GOOD)
    assert 1.0 in good["token_rewards"] and good["spans"][0]["text"] == "let it rise"


@pytest.mark.slow
def test_a_real_llama_cpp_critic_labels_or_explains_every_candidate(store_dir, llama_server):
    store = make_store(store_dir)
    options = {
        "endpoint": llama_server.base_url,
        "model": llama_server.model_name,
        "max_tokens": 96,
    }
    summary = run_labeler(store, build_labeler("critic", {**options, "parse_retries": 1}))
    assert summary["labeled"] + summary["errors"] == 3
    assert set(summary["errors_by_reason"]) <= {"invalid_json"}
    for label in store.scan("labels").collect().to_dicts():
        details = load_json(label["details"])
        assert label["error"] or {"spans", "unlocated"} <= set(details)


@pytest.mark.slow
def test_a_real_llama_cpp_critic_with_structured_output_parses_every_critique(
    store_dir, llama_server
):
    """With the JSON schema as the server's grammar even the 135M model's critiques parse:
    the answers reach the span locator, which free text from it never does."""
    store = make_store(store_dir)
    options = {"endpoint": llama_server.base_url, "model": llama_server.model_name,
               "max_tokens": 160, "structured": "on"}  # fmt: skip
    summary = run_labeler(store, build_labeler("critic", options))
    assert (summary["labeled"], summary["errors"]) == (3, 0)
    for label in store.scan("labels").collect().to_dicts():
        assert {"spans", "unlocated"} <= set(load_json(label["details"]))
