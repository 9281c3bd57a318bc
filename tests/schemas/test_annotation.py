"""Label Studio tasks and results as pure data: task keys, predictions, reading annotations,
consensus of several annotators, and Krippendorff's alpha."""

import pytest

from prefsmith.builders.agreement import krippendorff_alpha
from prefsmith.schemas.annotation import (
    aggregate,
    build_task,
    label_scores,
    prediction,
    read_annotation,
    task_key,
)

MESSAGES = [{"role": "user", "content": "Hi?"}]


def test_tasks_are_keyed_by_prompt_and_candidate_set():
    assert task_key("p", ["b", "a"]) == task_key("p", ["a", "b"]) != task_key("p", ["a", "c"])
    ranker = build_task("ranker", "p", MESSAGES, [("a", "A text"), ("b", "B text")])
    assert ranker["data"]["candidates"][1] == {"id": "b", "title": "Response 2", "body": "B text"}
    pairwise = build_task("pairwise", "p", MESSAGES, [("a", "A text"), ("b", "B text")])
    assert (pairwise["data"]["answer_a"], pairwise["data"]["answer_b"]) == ("A text", "B text")
    assert pairwise["data"]["task_key"] == ranker["data"]["task_key"]


def test_predictions_show_the_models_order_or_side():
    ranked = prediction("ranker", "rm@fp", ["a", "b", "c"], [0.1, 0.9, 0.5])
    assert ranked["result"][0]["value"] == {"ranker": {"rank": ["b", "c", "a"]}}
    side = prediction("pairwise", "judge@fp", ["a", "b"], [0.0, 1.0])
    assert (
        side["result"][0]["value"] == {"selected": "right"} and side["model_version"] == "judge@fp"
    )


def test_annotations_read_back_as_orders_winners_and_scores():
    data = {"candidate_ids": ["a", "b", "c"]}
    result = [{"type": "ranker", "value": {"ranker": {"rank": ["c", "a", "b"]}}}]
    assert read_annotation("ranker", data, result) == ["c", "a", "b"]
    assert label_scores("ranker", ["a", "b", "c"], ["c", "a", "b"]) == [1.0, 0.0, 2.0]
    assert (
        read_annotation("ranker", data, [{"type": "ranker", "value": {"ranker": {"rank": ["a"]}}}])
        is None
    )
    pair = {"candidate_ids": ["a", "b"]}
    assert (
        read_annotation("pairwise", pair, [{"type": "pairwise", "value": {"selected": "right"}}])
        == "b"
    )
    assert (
        read_annotation("pairwise", pair, [{"type": "textarea", "value": {"text": ["hm"]}}]) is None
    )


def test_consensus_is_borda_for_rankings_and_majority_for_pairs():
    def label(kind, scores, ids=("a", "b", "c")):
        return {
            "kind": kind,
            "prompt_id": "p",
            "candidate_ids": list(ids),
            "scores": scores,
            "error": None,
        }

    (borda,) = aggregate([label("ranking", [2.0, 1.0, 0.0]), label("ranking", [0.0, 2.0, 1.0])])
    assert borda["scores"] == [2.0, 3.0, 1.0]
    (tied,) = aggregate([label("pairwise", [1.0, 0.0], "ab"), label("pairwise", [0.0, 1.0], "ab")])
    assert tied["scores"] == [0.5, 0.5]
    votes = [label("pairwise", s, "ab") for s in ([1.0, 0.0], [0.0, 1.0], [0.0, 1.0])]
    assert aggregate(votes)[0]["scores"] == [0.0, 1.0]


def test_krippendorff_alpha_matches_a_hand_computed_value():
    units = {1: {"x": 1, "y": 1}, 2: {"x": 2, "y": 2}, 3: {"x": 1, "y": 2}, 4: {"x": 1}}
    assert krippendorff_alpha(units) == pytest.approx(1 - (2 / 6) / (18 / 30))
    assert krippendorff_alpha({1: {"x": 1, "y": 1}, 2: {"x": 2, "y": 2}}) == 1.0
    assert krippendorff_alpha({1: {"x": 1}}) is None
