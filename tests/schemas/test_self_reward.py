"""The self-rewarding loop's pure parts: settings, the choice of prompts, the score histogram
(its best-vs-worst pairs come from the preference builder: tests/flows/test_builders.py)."""

import pytest

from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.self_reward import (
    DPO_DEFAULTS,
    SelfRewardConfig,
    iteration_prompts,
    prompt_order,
    score_histogram,
    settings_changes,
)


def test_settings_are_strict_and_dpo_overrides_keep_the_cpu_defaults():
    with pytest.raises(UserError, match="unknown key 'iteratons'"):
        validate(SelfRewardConfig, {"iteratons": 3})
    with pytest.raises(UserError, match="n: "):
        validate(SelfRewardConfig, {"n": 1})  # one answer per prompt can't make a pair
    config = SelfRewardConfig(settings={"max_steps": 2})
    assert config.dpo_settings() == {**DPO_DEFAULTS, "max_steps": 2}
    assert "iterations" not in config.results_key()  # more iterations may follow later


def test_prompts_are_a_seeded_choice_and_each_iteration_gets_its_own():
    ids = [f"p{i}" for i in range(10)]
    assert prompt_order(ids, 0) == prompt_order(list(reversed(ids)), 0)  # storage order irrelevant
    assert prompt_order(ids, 0) != prompt_order(ids, 1)
    first, second = (iteration_prompts(ids, 4, k, 0, rotate=True) for k in (1, 2))
    assert len(first) == len(second) == 4 and not set(first) & set(second)
    assert iteration_prompts(ids, 4, 2, 0, rotate=False) == first
    third = iteration_prompts(ids, 4, 3, 0, rotate=True)  # 8..11: wraps around to the start
    assert third == prompt_order(ids, 0)[8:] + prompt_order(ids, 0)[:2]
    assert sorted(iteration_prompts(ids[:3], 5, 1, 0, rotate=True)) == ids[:3]  # no repeats
    assert iteration_prompts([], 4, 1, 0, rotate=True) == []


def test_histogram_counts_rounded_scores_in_every_bucket():
    assert score_histogram([1.2, 2.5, 2.49, 4.99, 5.0, float("nan")]) == {
        "1": 1,
        "2": 1,
        "3": 1,
        "4": 0,
        "5": 2,
    }


def test_changed_settings_are_named():
    assert settings_changes({"n": 4, "seed": 0}, {"n": 6, "seed": 0}) == ["n: 4 -> 6"]
