"""The judge's rubric modes on a scripted server: one rubric or several aspects per request, both
orders for relative grading, strict parsing with re-asks, and aspects addressed as
`LABELER:ASPECT` by the builders; then the bundled model on a real llama.cpp server."""

import json

import polars as pl
import pytest
from fake_openai import FakeOpenAI, completion
from judge_store import BAD, GOOD, make_store

from prefsmith.builders.datasets import build_reward_in_prompt
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.builds import RewardInPromptBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store.queries import labels_of


def _response(prompt: str) -> str:
    return prompt.split("[Response]\n")[1].split("\n[")[0].strip()


def grader(body):
    """Grades helpfulness 5/1/3 for GOOD/BAD/other, harmlessness always 4."""
    prompt = body["messages"][-1]["content"]
    if "[Response A]" in prompt:
        a = prompt.split("[Response A]\n")[1].split("\n[Response B]")[0]
        b = prompt.split("[Response B]\n")[1].split("\n[")[0].strip()
        winner = "A" if GOOD in a or BAD in b else "B" if GOOD in b or BAD in a else "A"
        return 200, completion(f"Feedback: by the criteria. [RESULT] {winner}")
    score = {GOOD: 5, BAD: 1}.get(_response(prompt), 3)
    if "### harmlessness" in prompt and "### helpfulness" in prompt:
        text = (
            f"### helpfulness\nRating: {score}\nRationale: graded.\n"
            "### harmlessness\nRating: 4\nRationale: safe."
        )
    else:
        text = f"Feedback: graded by the rubric. [RESULT] {score}"
    return 200, completion(text)


@pytest.fixture
def server():
    stub = FakeOpenAI(grader)
    yield stub
    stub.close()


def judge(server, **options):
    return build_labeler("judge", {"endpoint": server.url, "model": "m", **options})


def test_one_rubric_grades_each_answer_and_its_text_is_in_the_fingerprint(
    store_dir, server, tmp_path
):
    store = make_store(store_dir)
    labeler = judge(server, mode="rubric", rubric="harmlessness")
    summary = run_labeler(store, labeler)
    assert (summary["labeled"], summary["errors"]) == (3, 0)
    prompt = server.calls[0]["messages"][-1]["content"]
    assert "Criteria: Does the response avoid harm" in prompt and "Score 5:" in prompt
    assert "[Reference answer, which would score 5]\nKnead and bake." in prompt
    assert "Feedback: <your feedback> [RESULT] <an integer from 1 to 5>" in prompt
    labels = store.scan("labels").collect().to_dicts()
    scores = sorted(label["scores"][0] for label in labels)
    assert scores == [1.0, 3.0, 5.0]
    details = load_json(labels[0]["details"])
    assert set(details["aspects"]) == {"harmlessness"} and details["aspects"]["harmlessness"][
        "rationale"
    ].startswith("graded")

    edited = tmp_path / "harmlessness.yaml"
    text = (labeler.rubric.rubrics[0].text).replace("avoid harm", "avoid any harm")
    edited.write_text(text)
    assert judge(server, mode="rubric", rubric=str(edited)).fingerprint() != labeler.fingerprint()
    assert judge(server, mode="rubric", rubric="honesty").fingerprint() != labeler.fingerprint()


def test_several_aspects_in_one_request_give_a_score_per_aspect_for_the_builders(store_dir, server):
    store = make_store(store_dir)
    labeler = judge(server, mode="rubric", aspects="helpfulness,harmlessness")
    assert labeler.rubric.fmt == "ultrafeedback"
    summary = run_labeler(store, labeler)
    assert summary["labeled"] == 3 and len(server.calls) == 3  # one request per answer
    _, _, helpful, _ = labels_of(store, "judge:helpfulness")
    _, _, harmless, _ = labels_of(store, "judge:harmlessness")
    assert sorted(label["scores"][0] for label in helpful) == [1.0, 3.0, 5.0]
    assert [label["scores"] for label in harmless] == [[4.0]] * 3
    assert sorted(label["scores"][0] for label in labels_of(store, "judge")[2]) == [2.5, 3.5, 4.5]
    with pytest.raises(UserError, match=r"no aspect 'honesty'.*harmlessness, helpfulness"):
        labels_of(store, "judge:honesty")

    rewards = {"helpful": "judge:helpfulness", "harmless": "judge:harmlessness"}
    config = RewardInPromptBuildConfig(name="rip", rewards=rewards, splits={"train": 1.0})
    built = build_reward_in_prompt(store, config)
    rows = pl.read_parquet(f"{built['path']}/data/*.parquet").to_dicts()
    assert len(rows) == 3
    prompt = json.dumps(rows[0])
    assert "Helpful reward:" in prompt and "Harmless reward:" in prompt
    manifest = json.loads((store.root / "datasets" / "rip" / "manifest.json").read_text())
    assert {s["labeler"] for s in manifest["labelers"]} == set(rewards.values())


def test_relative_grading_asks_both_orders_and_reports_consistency(store_dir, server):
    store = make_store(store_dir)
    summary = run_labeler(store, judge(server, mode="rubric-pairwise", rubric="helpfulness"))
    # GOOD beats both and BAD loses to both in either order; MEH vs ... covered by the above.
    assert summary["items"] == 3 and summary["labeled"] == 3
    assert summary["consistency"] == 1.0 and summary["judged_in_both_orders"] == 3
    assert len(server.calls) == 6
    prompt = server.calls[0]["messages"][-1]["content"]
    assert "[Criteria]" in prompt and "Score 1:" not in prompt


def test_an_answer_out_of_format_is_asked_again_then_stored_unparseable(store_dir):
    stub = FakeOpenAI(lambda body: (200, completion("Feedback: fine. [RESULT] 4. Score: 5")))
    try:
        store = make_store(store_dir)
        labeler = judge(stub, mode="rubric", parse_retries=1)
        summary = run_labeler(store, labeler)
    finally:
        stub.close()
    assert summary["errors_by_reason"] == {"unparseable": 3} and len(stub.calls) == 6
    label = store.scan("labels").collect().to_dicts()[0]
    assert load_json(label["details"])["raw"] == "Feedback: fine. [RESULT] 4. Score: 5"


def test_a_schema_holding_server_gets_the_json_schema_of_the_aspects(store_dir):
    def reply(body):
        schema = body["response_format"]["schema"]
        assert schema["required"] == ["helpfulness", "honesty"]
        answer = {a: {"rationale": "ok", "score": 4} for a in schema["required"]}
        return 200, completion(json.dumps(answer))

    stub = FakeOpenAI(reply)
    try:
        store = make_store(store_dir)
        labeler = judge(stub, mode="rubric", aspects=["helpfulness", "honesty"], structured="on")
        assert labeler.rubric.fmt == "json"
        assert run_labeler(store, labeler)["labeled"] == 3
    finally:
        stub.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mode": "rubric", "rubric": "kindness"}, "neither a bundled rubric"),
        ({"mode": "rubric", "aspects": "helpfulness,harmlessness", "format": "prometheus"},
         "one rubric per request"),
        ({"mode": "rubric", "rubric": "helpfulness", "aspects": "honesty"}, "give one of them"),
        ({"mode": "pairwise", "rubric": "helpfulness"}, "need --mode rubric"),
    ],
)  # fmt: skip
def test_a_wrong_rubric_setting_is_one_clear_error(server, options, message):
    with pytest.raises(UserError, match=message):
        judge(server, **options)


@pytest.mark.slow
def test_a_real_llama_cpp_judge_grades_by_a_rubric_with_the_schema(hh_datasets, llama_server):
    """The bundled 135M model, held to the JSON schema: every answer parses."""
    options = {
        "endpoint": llama_server.base_url,
        "model": llama_server.model_name,
        "mode": "rubric",
        "rubric": "harmlessness",
        "structured": "on",
        "max_tokens": 160,
    }
    labeler = build_labeler("judge", options)
    summary = run_labeler(hh_datasets, labeler, limit=6)
    assert summary["labeled"] + summary["errors"] == 6
    assert summary["errors_by_reason"].get("unparseable", 0) == 0, summary
    graded = [
        label
        for label in hh_datasets.scan("labels")
        .filter(pl.col("labeler") == "judge")
        .collect()
        .to_dicts()
        if label["scores"]
    ]
    assert graded and all(1 <= label["scores"][0] <= 5 for label in graded)
