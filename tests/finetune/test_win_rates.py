"""The length-controlled win rate: a judge that rewards length alone gets a raw win rate far
from a half and a length-controlled one near it; a judge blind to length gets the same both."""

import numpy as np

from prefsmith.finetune.win_rates import length_controlled_win_rate, raw_win_rate


def _verdicts(rng, win_probability):
    differences = rng.normal(60, 100, size=600)  # the tuned answers run longer
    p = win_probability(differences)
    return (rng.random(600) < p).astype(float).tolist(), differences.tolist()


def test_a_judge_that_rewards_length_alone_is_near_a_half_once_length_is_controlled():
    wins, differences = _verdicts(np.random.default_rng(0), lambda d: 1 / (1 + np.exp(-d / 50)))
    raw, controlled = raw_win_rate(wins), length_controlled_win_rate(wins, differences)
    assert raw > 0.65 and abs(controlled - 0.5) < 0.07


def test_a_judge_blind_to_length_keeps_its_win_rate():
    wins, differences = _verdicts(np.random.default_rng(1), lambda d: np.full_like(d, 0.7))
    raw, controlled = raw_win_rate(wins), length_controlled_win_rate(wins, differences)
    assert abs(raw - 0.7) < 0.05 and abs(controlled - raw) < 0.05


def test_ties_count_half_and_few_verdicts_fall_back_to_the_raw_rate():
    assert length_controlled_win_rate([1.0, 0.5, 0.0], [10, 0, -10]) == raw_win_rate([1, 0.5, 0])
