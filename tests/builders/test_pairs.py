from collections import Counter

import pytest

from prefsmith.builders.pairs import choose_pairs, opinions_from_labels
from prefsmith.schemas.errors import UserError


def score(prompt, cand, value, error=None):
    return {
        "kind": "score",
        "prompt_id": prompt,
        "candidate_ids": [cand],
        "scores": None if error else [value],
        "error": error,
    }


def pairwise(prompt, a, b, scores, error=None):
    return {
        "kind": "pairwise",
        "prompt_id": prompt,
        "candidate_ids": [a, b],
        "scores": scores,
        "error": error,
    }


def ranking(prompt, order, scores=None):
    scores = scores or [float(len(order) - i) for i in range(len(order))]
    return {
        "kind": "ranking",
        "prompt_id": prompt,
        "candidate_ids": order,
        "scores": scores,
        "error": None,
    }


def pairs(choices):
    return sorted((c.prompt_id, c.chosen_id, c.rejected_id) for c in choices)


RM = [
    score("p", "a", 3.0),
    score("p", "b", 1.0),
    score("p", "c", 2.0),
    score("q", "x", 1.0),
    score("q", "y", 1.0),
    score("r", "z", 0.0),
]


def test_scores_best_vs_worst_never_pairs_a_tie_or_a_lone_candidate():
    choices, drops = choose_pairs([opinions_from_labels("rm", RM)], mode="best-worst")
    assert pairs(choices) == [("p", "a", "b")]
    assert choices[0].margin == 2.0 and choices[0].labelers == ("rm",)
    assert drops == Counter({"tie": 1, "single_candidate": 1})


def test_scores_all_pairs_above_a_margin_and_quantile_split():
    choices, drops = choose_pairs([opinions_from_labels("rm", RM)], mode="all", min_margin=1.0)
    assert pairs(choices) == [("p", "a", "b")]
    assert drops["below_margin"] == 2 and drops["tie"] == 1
    # All scores [0, 1, 1, 1, 2, 3]: the top 20% is >= 2.0, the bottom 20% <= 1.0.
    choices, drops = choose_pairs([opinions_from_labels("rm", RM)], mode="quantile", quantile=0.2)
    assert pairs(choices) == [("p", "a", "b"), ("p", "c", "b")]
    assert drops == Counter({"outside_quantiles": 1, "single_candidate": 1})


def test_rankings_best_worst_all_and_adjacent():
    labels = [ranking("p", ["a", "b", "c"])]
    assert pairs(choose_pairs([opinions_from_labels("h", labels)], mode="best-worst")[0]) == [
        ("p", "a", "c")
    ]
    assert len(choose_pairs([opinions_from_labels("h", labels)], mode="all")[0]) == 3
    assert pairs(choose_pairs([opinions_from_labels("h", labels)], mode="adjacent")[0]) == [
        ("p", "a", "b"),
        ("p", "b", "c"),
    ]
    tied = [ranking("p", ["a", "b"], [1.0, 1.0])]
    assert choose_pairs([opinions_from_labels("h", tied)], mode="all") == ([], Counter({"tie": 1}))


def test_pairwise_keeps_consistent_verdicts_only():
    labels = [
        pairwise("p", "a", "b", [1.0, 0.0]),
        pairwise("p", "c", "d", [0.0, 1.0]),
        pairwise("p", "e", "f", [0.5, 0.5]),
        pairwise("p", "g", "h", None, error="inconsistent"),
        pairwise("p", "i", "j", [1.0, 0.0]),
        pairwise("p", "j", "i", [1.0, 0.0]),  # the same pair judged the other way: a conflict
        pairwise("p", "a", "b", [1.0, 0.0]),  # a repeat of the first verdict: one pair
    ]
    choices, drops = choose_pairs([opinions_from_labels("judge", labels)], mode="all")
    assert pairs(choices) == [("p", "a", "b"), ("p", "d", "c")]
    assert drops == Counter({"tie": 1, "inconsistent": 1, "conflicting_verdicts": 1})


def test_several_labelers_must_agree_or_vote():
    rm = opinions_from_labels(
        "rm",
        [score("p", "a", 2.0), score("p", "b", 1.0), score("q", "x", 2.0), score("q", "y", 1.0)],
    )
    judge = opinions_from_labels(
        "judge", [pairwise("p", "a", "b", [1.0, 0.0]), pairwise("q", "x", "y", [0.0, 1.0])]
    )
    choices, drops = choose_pairs([rm, judge], mode="best-worst", combine="agree")
    assert pairs(choices) == [("p", "a", "b")] and drops["labelers_disagree"] == 1
    assert choices[0].labelers == ("judge", "rm")
    choices, drops = choose_pairs(
        [rm, judge], mode="best-worst", combine="vote", weights={"judge": 2.0}
    )
    assert pairs(choices) == [("p", "a", "b"), ("q", "y", "x")]
    choices, drops = choose_pairs([rm, judge], mode="best-worst", combine="vote")
    assert pairs(choices) == [("p", "a", "b")] and drops["tie"] == 1


def test_mode_and_kind_mistakes_are_user_errors():
    with pytest.raises(UserError, match="--pairs adjacent does not apply to score labels of rm"):
        choose_pairs([opinions_from_labels("rm", RM)], mode="adjacent")
    with pytest.raises(UserError, match="has labels of kinds"):
        opinions_from_labels("x", [score("p", "a", 1.0), ranking("p", ["a", "b"])])
