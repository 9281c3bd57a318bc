"""Win rates that length cannot buy: AlpacaEval's length-controlled win rate.

A logistic model of the judge's verdict (win 1, loss 0, tie half of each) on the length
difference of the two answers, squashed as AlpacaEval does (tanh of the difference over its
standard deviation); the length-controlled win rate is the model's prediction at zero length
difference, i.e. what the judge would say if the two answers were equally long.
"""

from __future__ import annotations

import numpy as np


def raw_win_rate(wins: list[float]) -> float | None:
    return round(float(np.mean(wins)), 4) if wins else None


def length_controlled_win_rate(wins: list[float], length_differences: list[float]) -> float | None:
    """The predicted win rate at zero length difference; `wins` are 1, 0 or 0.5 (a tie)."""
    from sklearn.linear_model import LogisticRegression

    if len(wins) < 4 or len(set(wins)) < 2:
        return raw_win_rate(wins)
    spread = float(np.std(length_differences)) or 1.0
    x = np.tanh(np.array(length_differences, dtype=float) / spread).reshape(-1, 1)
    y = np.array(wins, dtype=float)
    both_x = np.vstack([x, x])
    both_y = np.concatenate([np.ones(len(y)), np.zeros(len(y))])
    weights = np.concatenate([y, 1 - y])  # a tie counts half a win and half a loss
    keep = weights > 0
    model = LogisticRegression(C=1e6, max_iter=1000).fit(
        both_x[keep], both_y[keep], sample_weight=weights[keep]
    )
    return round(float(model.predict_proba(np.zeros((1, 1)))[0, 1]), 4)
