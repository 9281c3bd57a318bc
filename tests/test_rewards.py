"""`prefsmith.rewards.reward_function`: a labeler as a trl reward function, its spec, the items
it builds from trl's arguments, and the store as its cache (shared with offline labeling)."""

import pytest
from cli_runner import run_json

from prefsmith.labelers.verify_math import VerifyMathLabeler
from prefsmith.rewards import parse_spec, reward_function
from prefsmith.schemas import ids
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

pytest.importorskip("math_verify")

QUESTION = "What is 2+2?"
TRAINER = {"completion_ids": [[1], [2], [3]], "trainer_state": object(), "log_metric": print}


def conversation(text: str, role: str = "user") -> list[dict[str, str]]:
    return [{"role": role, "content": text}]


@pytest.fixture
def batches(monkeypatch):
    """The items of every `label_batch` call of verify-math, in order."""
    seen: list[list] = []
    original = VerifyMathLabeler.label_batch

    def label_batch(self, items):
        seen.append(list(items))
        return original(self, items)

    monkeypatch.setattr(VerifyMathLabeler, "label_batch", label_batch)
    return seen


def test_a_spec_is_read_by_the_options_types():
    assert parse_spec("verify-math") == ("verify-math", {})
    key, options = parse_spec(r"verify-math:answer_pattern=\d{1,3},name=vm,batch_size=8")
    assert key == "verify-math"
    assert options == {"answer_pattern": r"\d{1,3}", "name": "vm", "batch_size": 8}
    assert parse_spec("reward_model:model=./runs/rm") == ("reward_model", {"model": "./runs/rm"})
    assert parse_spec(("verify-math", {"name": "x"})) == ("verify-math", {"name": "x"})
    assert reward_function("verify-math:name=math").__name__ == "reward_math"
    assert reward_function("verify-math").__name__ == "reward_verify_math"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("verify-math:answer_patern=x", "unknown key 'answer_patern'"),
        ("verify-math:batch_size=many", "batch_size"),
        ("nope", "unknown labeler 'nope'"),
        ("verify-math:answer_pattern", "expected KEY=VALUE"),
        ("judge:mode=pairwise", 'needs a labeler that scores one answer (unit "candidate")'),
    ],
)
def test_mistakes_are_user_errors_before_training(spec, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        reward_function(spec)


def test_plain_and_conversational_answers_get_the_verifier_score(batches):
    reward = reward_function("verify-math")
    plain = reward([QUESTION] * 3, ["The answer is 4.", "#### 5", "4"], answer=["4", "4", None],
                   **TRAINER)  # fmt: skip
    assert plain == [1.0, 0.0, None]  # the third has no reference: skipped, not labeled
    assert [len(batch) for batch in batches] == [2]
    chat = reward(
        [conversation(QUESTION)] * 3,
        [conversation(text, "assistant") for text in ("\\boxed{4}", "five", "#### 4")],
        reference=["4", "4", "4"],
        **TRAINER,
    )
    assert chat == [1.0, 0.0, 1.0]
    item = batches[-1][0]
    assert item.messages == conversation(QUESTION) and item.reference == "4"
    assert item.prompt_id == ids.prompt_id(conversation(QUESTION))
    assert item.candidate_ids == [ids.candidate_id(item.prompt_id, "\\boxed{4}")]
    assert item.metadata == {"reference": "4"}  # trl's own arguments are not columns


def test_a_prompt_id_column_keys_the_answer_as_the_store_does(batches):
    """A dataset built from the store (MT-Bench: the follow-up turn is part of the prompt's
    id) carries `prompt_id`: the online answer is then the offline one."""
    reward = reward_function("verify-math")
    assert reward([QUESTION], ["#### 4"], answer=["4"], prompt_id=["p" * 32], **TRAINER) == [1.0]
    item = batches[-1][0]
    assert item.prompt_id == "p" * 32
    assert item.candidate_ids == [ids.candidate_id("p" * 32, "#### 4")]


def test_dataset_columns_reach_the_labeler_as_metadata(batches):
    reward = reward_function("verify-math:reference_field=gold")
    rows = {"gold": ["4", "4"], "tests": [["assert f() == 4"], []], "solution": ["4", "4"]}
    assert reward([QUESTION] * 2, ["4", "3"], **rows, **TRAINER) == [1.0, 0.0]
    assert [item.metadata for item in batches[0]] == [
        {"gold": "4", "tests": ["assert f() == 4"], "solution": "4"},
        {"gold": "4", "tests": [], "solution": "4"},
    ]


def test_ifevals_columns_reach_verify_instructions():
    pytest.importorskip("lm_eval")
    reward = reward_function("verify-instructions")
    columns = {  # trl passes a column named `kwargs` as the keyword argument `kwargs`
        "instruction_id_list": [["change_case:english_lowercase"]] * 2,
        "kwargs": [[{}]] * 2,
        "key": [1, 1],
    }
    prompts = ["Write two words in lowercase."] * 2
    assert reward(prompts, ["hello world", "HELLO WORLD"], **columns, **TRAINER) == [1.0, 0.0]


def test_an_answer_is_labeled_once_then_read_back(batches, tmp_path):
    reward = reward_function("verify-math", store=tmp_path / "store")
    assert reward([QUESTION] * 4, ["4", "4", " 4 ", "3"], answer=["4"] * 4) == [1.0, 1, 1, 0]
    assert [len(batch) for batch in batches] == [2]
    assert reward([QUESTION] * 2, ["4", "3"], answer=["4"] * 2) == [1.0, 0.0]
    assert len(batches) == 1
    assert Store(tmp_path / "store").count("labels") == 0  # written by the chunk, as offline
    reward.flush()
    assert Store(tmp_path / "store").count("labels") == 2
    again = reward_function("verify-math", store=tmp_path / "store")  # a new process, say
    assert again([QUESTION] * 3, ["3", "4", "5"], answer=["4"] * 3) == [0.0, 1.0, 0.0]
    assert [len(batch) for batch in batches] == [2, 1]  # only "5" is new


def test_a_full_chunk_is_written_at_once(batches, tmp_path):
    reward = reward_function("verify-math:batch_size=2", store=tmp_path / "store")
    chunk = 2 * reward.labeler.chunk_batches
    answers = [str(i) for i in range(chunk + 1)]
    reward([QUESTION] * len(answers), answers, answer=["4"] * len(answers))
    store = Store(tmp_path / "store")
    assert store.count("labels") == store.count("candidates") == chunk + 1
    assert store.count("prompts") == 1


def test_batches_are_the_labelers_and_a_failing_batch_is_none(batches, monkeypatch, tmp_path):
    reward = reward_function("verify-math:batch_size=2", store=tmp_path / "store")
    answers = ["1", "2", "3", "4", "5"]
    assert reward([QUESTION] * 5, answers, answer=["4"] * 5) == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert [len(batch) for batch in batches] == [2, 2, 1]

    def broken(self, item):
        raise RuntimeError("boom")

    monkeypatch.setattr(VerifyMathLabeler, "check", broken)
    assert reward([QUESTION] * 2, ["4", "6"], answer=["4"] * 2) == [1.0, None]
    reward.close()
    labels = Store(tmp_path / "store").scan("labels").collect()
    # A labeler_error is transient: not stored, so that answer is asked again next time.
    assert labels.height == 5 and labels["error"].null_count() == 5


@pytest.mark.slow
@pytest.mark.prefect
def test_offline_labels_are_read_back_and_online_ones_are_offline_labels(
    batches, write_jsonl, tmp_path
):
    """Labeled by `prefsmith label`, never labeled again online; labeled online, cached for
    the next `prefsmith label` (the same label ids), with its prompt and candidate stored."""
    store = str(tmp_path / "store")
    rows = [
        {"prompt": QUESTION, "completions": [{"text": "The answer is 4.", "model": "m"},
                                             {"text": "#### 5", "model": "m"}], "reference": "4"},
        {"prompt": "What is 3+3?", "completions": [{"text": "6", "model": "m"}], "reference": "6"},
    ]  # fmt: skip
    run_json("ingest", "completions", str(write_jsonl("in.jsonl", rows)), "--store", store)
    offline = run_json("label", "--labeler", "verify-math", "--store", store)
    assert offline["labeled"] == 3
    batches.clear()  # the offline run's
    reward = reward_function("verify-math", store=store)
    known = reward([QUESTION, QUESTION, "What is 3+3?"], ["The answer is 4.", "#### 5", "6"],
                   reference=["4", "4", "6"])  # fmt: skip
    assert known == [1.0, 0.0, 1.0] and batches == []
    new = reward([conversation(QUESTION)] * 2, [conversation("4", "assistant")] * 2,
                 reference=["4", "4"])  # fmt: skip
    assert new == [1.0, 1.0] and [len(batch) for batch in batches] == [1]
    (item,) = batches[0]
    reward.close()  # at the end of training (or at exit): the unwritten labels are written
    labels = Store(store).scan("labels").collect()
    assert labels.height == 4 and reward.labeler.label_id(item) in labels["label_id"].to_list()
    candidates = Store(store).scan("candidates").filter(origin="online:verify-math").collect()
    assert candidates["candidate_id"].to_list() == item.candidate_ids
    again = run_json("label", "--labeler", "verify-math", "--store", store)
    assert again["items"] == 4 and again["cached"] == 4 and again["labeled"] == 0
