"""verify-math: each answer convention, the references of MT-Bench's math questions, and
hand-made right and wrong answers to them labeled through the CLI as a user would."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from prefsmith.cli.app import app
from prefsmith.labelers.base import Item
from prefsmith.labelers.math_answers import find_answer, find_reference
from prefsmith.labelers.registry import build_labeler
from prefsmith.schemas.records import Candidate, load_json, to_table
from prefsmith.store import Store
from tests.cli_runner import run_json, runner

ROOT = Path(__file__).parents[2]
QUESTIONS = ROOT / "data" / "prompts" / "mt_bench_questions.jsonl"
ANSWERS = ROOT / "data" / "prompts" / "mt_bench_math_answers.jsonl"  # right, then wrong


@pytest.mark.parametrize(
    ("text", "answer", "rule"),
    [
        ("First \\boxed{2}, then \\boxed{\\frac{1}{2}} at last.", "\\frac{1}{2}", "boxed"),
        ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "72", "hashes"),
        ("So the final answer is 3/4. Let me check 5 again.", "3/4", "answer_is"),
        ("Answer: 12", "12", "answer_is"),
        ("Q: what is 2+2?\nA: 4\nThat was 1 step.", "4", "a_colon"),
        ("We add 3 and 4 to get 7 apples.", "7", "last_number"),
        ("It costs $1,250.50 in all", "$1,250.50", "last_number"),
        ("No number here.", None, None),
    ],
)
def test_each_convention_finds_the_final_answer(text, answer, rule) -> None:
    found = find_answer(text)
    got = (found.text, found.rule) if found else (None, None)
    assert got == (answer, rule)


def test_answer_pattern_replaces_the_conventions() -> None:
    found = find_answer("The answer is 3. Result: 5 apples", re.compile(r"Result: (\d+)"))
    assert (found.text, found.rule) == ("5", "pattern")
    assert find_answer("The answer is 3.", re.compile(r"Result: (\d+)")) is None


def test_a_reference_written_answer_first_gives_its_leading_number() -> None:
    assert find_reference("19 integers (-14, ..., 4)").text == "19"
    assert find_reference("0\n\nVery simple. just (x+y)^2 = 0").text == "0"
    assert find_reference("36 (all cases) - 1 = 35, so the probability is 35/36").text == "35/36"
    assert find_reference("Area is 3").text == "3"


def _item(content: str, **metadata) -> Item:
    return Item("p", [{"role": "user", "content": "?"}], ["c"], [content], metadata=metadata)


def test_equivalent_forms_are_one_answer_and_details_say_how_it_was_found() -> None:
    labeler = build_labeler("verify-math", {})
    label = labeler.check(_item("The probability is \\boxed{\\frac{35}{36}}.", reference="35/36"))
    assert label.scores == [1.0]
    assert label.details["rule"] == "boxed" and label.details["reference"] == "35/36"
    assert labeler.check(_item("#### 0.19", reference="19%")).scores == [1.0]
    assert labeler.check(_item("#### 0.2", reference="19%")).scores == [0.0]
    nothing = labeler.check(_item("I am not sure.", reference="4"))
    assert nothing.scores == [0.0] and nothing.details["extracted"] is None


def test_prompts_without_a_usable_reference_are_skipped_not_labeled() -> None:
    labeler = build_labeler("verify-math", {})
    assert labeler.skip_reason(_item("4")) == "no_reference"
    assert labeler.skip_reason(_item("4", reference='The answer is "Washington, DC".')) == (
        "unparseable_reference"
    )
    assert labeler.skip_reason(_item("4", answer="Natalia sold 72 clips.\n#### 72")) is None
    other = build_labeler("verify-math", {"reference_field": "gold"})
    assert other.skip_reason(_item("4", reference="4")) == "no_reference"
    assert other.check(_item("the answer is 4", gold=4)).scores == [1.0]


def test_mt_bench_math_answers_written_right_and_wrong_are_labeled_so(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    run_json("ingest", "prompts", str(QUESTIONS), "--format", "mt-bench", "--store", str(store_dir))
    store = Store(store_dir)
    prompts = store.scan("prompts").select("prompt_id", "metadata").collect()
    by_question = {load_json(m)["source_id"]: p for p, m in prompts.iter_rows()}
    answers = [json.loads(line) for line in ANSWERS.read_text().splitlines()]
    expected, candidates = {}, []
    for row in answers:
        for completion, score in zip(row["completions"], (1.0, 0.0), strict=True):
            candidate = Candidate(by_question[row["question_id"]], completion["text"], "test")
            candidates.append(candidate)
            expected[candidate.candidate_id] = (row["question_id"], score)
    writing = Candidate(by_question[81], "A travel blog post.", origin="test")  # no reference
    capital = Candidate(by_question[102], "Washington, DC", origin="test")  # not math
    store.write("candidates", to_table("candidates", [*candidates, writing, capital]))

    summary = run_json("label", "--labeler", "verify-math", "--store", str(store_dir))
    assert summary["labeled"] == 20 and summary["errors"] == 0
    assert summary["skipped"] == {"no_reference": 1, "unparseable_reference": 1}
    labels = store.scan("labels").filter(pl.col("labeler") == "verify-math").collect()
    got = {row["candidate_ids"][0]: row["scores"][0] for row in labels.iter_rows(named=True)}
    assert {cid: got[cid] for cid in expected} == {cid: s for cid, (_, s) in expected.items()}

    again = run_json("label", "--labeler", "verify-math", "--store", str(store_dir))
    assert again["labeled"] == 0 and again["cached"] == 20


def test_a_bad_answer_pattern_is_one_clear_error(tmp_path: Path) -> None:
    store_dir = str(tmp_path / "s")
    run_json("ingest", "prompts", str(QUESTIONS), "--format", "mt-bench", "--store", store_dir)
    result = runner.invoke(
        app,
        ["label", "--labeler", "verify-math", "--option", "answer_pattern=(", "--store", store_dir],
    )
    assert result.exit_code != 0
    assert "answer_pattern '('" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("reference", "text", "rule"),
    [
        ("\\frac{14}{3}", "\\frac{14}{3}", "math"),
        ("\\{-3, 3\\}", "\\{-3, 3\\}", "math"),
        ("3, -3", "3, -3", "math"),
        ("10^{6}", "10^{6}", "math"),
        ("2\\sqrt{2}", "2\\sqrt{2}", "math"),
        ("p - q", "p - q", "math"),
        ("f(2) = 0", "0", "math"),  # an equation's right side
        ("Area is 3", "3", "last_number"),
        ("38 people", "38", "leading_number"),
        ("0\n\n2 * (10x+4) = 20x + 8 = 4 * (5x+2) + 0\n", "0", "leading_number"),
    ],
)
def test_a_reference_in_short_math_is_read_whole(reference, text, rule) -> None:
    found = find_reference(reference)
    assert (found.text, found.rule) == (text, rule)


def test_short_math_references_and_answers_keep_their_value() -> None:
    labeler = build_labeler("verify-math", {})
    for reference, right, wrong in [
        ("\\frac{14}{3}", "The answer is 14/3.", "The answer is 3."),
        ("\\{-3, 3\\}", "\\boxed{\\{3, -3\\}}", "\\boxed{3}"),
        ("3, -3", "The answer is -3 or 3.", "#### -3"),
        ("10^{6}", "#### 1000000", "#### 6"),
        ("2\\sqrt{2}", "\\boxed{\\sqrt{8}}", "\\boxed{2}"),
        ("p - q", "\\boxed{-q + p}", "\\boxed{q - p}"),
        ("1/2", "The answer is \\frac{1}{2}.", "The answer is 2."),
        ("10^{6}", "Answer: 10^{6}", "A: 10^{5}"),
    ]:
        assert labeler.skip_reason(_item(right, reference=reference)) is None
        assert labeler.check(_item(right, reference=reference)).scores == [1.0], right
        assert labeler.check(_item(wrong, reference=reference)).scores == [0.0], wrong


@pytest.mark.parametrize(
    "answer",
    [
        "The answer is 3 or 4.",
        "The answer is 1, 2, 3, 4.",
        "#### 4 or 5",
        "A: 3, 4",
        "It is either 3 or 4",
        "The answer is x = 3 or x = 4.",
    ],
)
def test_hedged_answers_score_nothing_unless_the_reference_is_a_set(answer) -> None:
    labeler = build_labeler("verify-math", {})
    label = labeler.check(_item(answer, reference="4"))
    assert label.scores == [0.0] and label.details["ambiguous"] is True
    assert label.details["extracted"] and label.details["rule"] != "boxed"


def test_lists_that_are_sets_and_numbers_that_are_one_are_not_hedges() -> None:
    labeler = build_labeler("verify-math", {})
    assert labeler.check(_item("The roots are 3 and -3", reference="3, -3")).scores == [1.0]
    hedge = labeler.check(_item("The answer is 3 or 4.", reference="\\{3, 5\\}"))
    assert hedge.scores == [0.0] and "ambiguous" not in hedge.details
    for answer, reference in [("#### 12,000", "12000"), ("A: 1.5", "3/2"), ("Add 3 and 4: 7", "7")]:
        label = labeler.check(_item(answer, reference=reference))
        assert label.scores == [1.0] and "ambiguous" not in label.details, answer


def test_a_unicode_minus_is_a_minus() -> None:
    labeler = build_labeler("verify-math", {})
    assert labeler.check(_item("x = \u22123", reference="3")).scores == [0.0]
    assert labeler.check(_item("x = \u22123", reference="-3")).scores == [1.0]
    assert labeler.check(_item("so x = \u20133", reference="-3")).scores == [1.0]
    assert find_answer("pages 3\u20135").text == "5"  # a range, not a minus


def test_answer_is_must_be_followed_by_math() -> None:
    found = find_answer("the answer is correct: 2+2=4. Final: 7")
    assert (found.text, found.rule) == ("7", "last_number")
    assert find_answer("The answer is x = 5.").text == "x = 5"
    assert find_answer("The final answer is **12**.").text == "12"


def test_costly_expressions_are_refused_before_parsing() -> None:
    labeler = build_labeler("verify-math", {})
    for answer in ["\\boxed{9^{9^{9}}}", "#### 9**9**9", "\\boxed{2^{100000}}", "\\boxed{1000!}"]:
        label = labeler.check(_item(answer, reference="4"))
        assert label.scores == [0.0] and label.details["too_complex"] is True, answer
    for answer in ["\\boxed{x^2+y^2+z^2}", "\\boxed{2^{2023}}", "\\boxed{(2^3)^2}", "#### 5!"]:
        assert "too_complex" not in labeler.check(_item(answer, reference="4")).details


def test_a_costly_expression_returns_quickly_outside_the_main_thread() -> None:
    script = """
import json, threading, time
from prefsmith.labelers.base import Item
from prefsmith.labelers.registry import build_labeler
labeler = build_labeler("verify-math", {})
item = lambda text: Item("p", [{"role": "user", "content": "?"}], ["c"], [text], metadata={"reference": "4"})
labeler.check(item("\\\\boxed{4}"))  # imports and warms up math-verify
out = {}
thread = threading.Thread(target=lambda: out.update(labeler.check(item("\\\\boxed{9^{9^{9^{9^{9}}}}}")).details), daemon=True)
start = time.monotonic()
thread.start()
thread.join(timeout=1.0)
print(json.dumps({"alive": thread.is_alive(), "s": time.monotonic() - start, "details": out}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )  # a hang is killed here (TimeoutExpired), and fails the test
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert not result["alive"] and result["s"] < 1.0
    assert result["details"]["too_complex"] is True
