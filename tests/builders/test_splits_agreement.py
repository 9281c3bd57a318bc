import pytest

from prefsmith.builders.agreement import agreement, cohen_kappa
from prefsmith.builders.splits import parse_splits, split_of
from prefsmith.schemas.errors import UserError


def test_splits_are_stable_seeded_and_close_to_the_fractions():
    splits = parse_splits("train=0.8,test=0.2")
    ids = [f"prompt-{i}" for i in range(5000)]
    assigned = [split_of(i, splits, seed=1) for i in ids]
    assert abs(assigned.count("test") / len(ids) - 0.2) < 0.03
    assert assigned == [split_of(i, splits, seed=1) for i in ids]
    assert assigned != [split_of(i, splits, seed=2) for i in ids]


@pytest.mark.parametrize("text", ["train=0.8", "train=0.8,test=0.3", "train", "train=x", "=1"])
def test_bad_splits_are_user_errors(text):
    with pytest.raises(UserError, match="--splits"):
        parse_splits(text)


def test_kappa_matches_a_hand_computation():
    # 10 items: both say A on 4, both B on 3, disagree on 3 (A/B twice, B/A once).
    first = ["A"] * 4 + ["B"] * 3 + ["A", "A", "B"]
    second = ["A"] * 4 + ["B"] * 3 + ["B", "B", "A"]
    observed = 0.7
    expected = (6 / 10) * (5 / 10) + (4 / 10) * (5 / 10)
    assert cohen_kappa(first, second) == pytest.approx((observed - expected) / (1 - expected))
    result = agreement(dict(enumerate(first)), {**dict(enumerate(second)), 99: "A"})
    assert (result.n, result.agreement) == (10, pytest.approx(0.7))
    assert agreement({1: "A"}, {2: "A"}).n == 0
    assert cohen_kappa(["A", "A"], ["A", "A"]) is None
