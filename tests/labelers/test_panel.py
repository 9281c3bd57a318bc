"""The learned panel on a synthetic store where the truth is known: one member rewards length
by construction, the panel's length covariate keeps that out of its verdicts, and the panel
fit on gold (cross-fitted) is at least as accurate as its best member."""

import numpy as np
import pytest

from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.report.labeler_eval import evaluate_labelers
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Label, Prompt, load_json, to_table
from prefsmith.store import Store

PAIRS = 400


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    """Gold prefers the better answer (quality independent of length). `rm` sees quality with
    noise; `lengthy` mostly counts characters."""
    rng = np.random.default_rng(7)
    store = Store(tmp_path_factory.mktemp("panel") / "s")
    prompts, candidates, labels = [], [], []
    for i in range(PAIRS):
        prompt = Prompt(messages=[{"role": "user", "content": f"q{i}"}], source="t")
        pair = []
        for side in range(2):
            length = int(rng.integers(20, 400))
            pair.append((Candidate(prompt.prompt_id, f"{i}-{side} " + "x" * length, "t"),
                         rng.normal(), length))  # fmt: skip
        (a, qa, _), (b, qb, _) = pair
        winner, loser = (a, b) if qa > qb else (b, a)
        labels.append(Label("gold", "fp", "pairwise", prompt.prompt_id,
                            [winner.candidate_id, loser.candidate_id], [1.0, 0.0]))  # fmt: skip
        for c, q, length in pair:
            rm = q + rng.normal(scale=0.8)
            lengthy = length / 100 + 0.3 * q
            labels += [Label("rm", "fp", "score", prompt.prompt_id, [c.candidate_id], [rm]),
                       Label("lengthy", "fp", "score", prompt.prompt_id, [c.candidate_id],
                             [lengthy])]  # fmt: skip
        prompts.append(prompt)
        candidates += [a, b]
    store.write("prompts", to_table("prompts", prompts))
    store.write("candidates", to_table("candidates", candidates))
    store.write("labels", to_table("labels", labels))
    return store


def _chosen_is_longer(store: Store, name: str) -> float:
    lengths = dict(store.scan("candidates").select("candidate_id", "content").collect().rows())
    shares = []
    for label in store.scan("labels").collect().to_dicts():
        if label["labeler"] != name or not label["scores"]:
            continue
        a, b = label["candidate_ids"]
        first = label["scores"][0] > label["scores"][1]
        chosen, other = (a, b) if first else (b, a)
        shares.append(len(lengths[chosen]) > len(lengths[other]))
    return float(np.mean(shares))


def test_the_panel_is_cross_fitted_and_keeps_a_member_s_length_taste_out(synthetic):
    options = {"members": "rm,lengthy", "gold": "gold", "name": "panel"}
    summary = run_labeler(synthetic, build_labeler("panel", options))
    assert summary["labeled"] == PAIRS and summary["gold_pairs"] == PAIRS
    weights = summary["panel_weights"]
    assert weights["rm"] > 0 and weights["length"] < 0  # lengthy's taste is taken back out
    report = evaluate_labelers(synthetic, "gold", ["rm", "lengthy", "panel"])
    figures = report["labelers"]
    gold_share = figures["panel"]["gold_length_bias"]
    assert abs(figures["lengthy"]["length_bias"] - gold_share) > 0.2  # the biased member
    assert abs(_chosen_is_longer(synthetic, "panel") - gold_share) <= 0.05
    best_member = max(figures["rm"]["accuracy"], figures["lengthy"]["accuracy"])
    assert summary["cross_fitted_accuracy"] >= best_member - 0.01
    label = synthetic.scan("labels").collect().filter(labeler="panel").to_dicts()[0]
    details = load_json(label["details"])
    assert details["cross_fitted"] is True and set(details["contributions"]) >= {"rm", "length"}
    assert abs(details["p_chosen"] - label["scores"][0]) < 1e-6


def test_without_the_covariate_the_length_taste_passes_on(synthetic):
    options = {"members": ["rm", "lengthy"], "gold": "gold", "name": "panel-raw",
               "length_covariate": False}  # fmt: skip
    run_labeler(synthetic, build_labeler("panel", options))
    report = evaluate_labelers(synthetic, "gold", ["panel-raw"])
    gold_share = report["labelers"]["panel-raw"]["gold_length_bias"]
    assert _chosen_is_longer(synthetic, "panel-raw") - gold_share > 0.05


def test_a_rerun_with_the_same_labels_is_cached_and_new_gold_refits(synthetic):
    options = {"members": "rm,lengthy", "gold": "gold", "name": "panel"}
    again = run_labeler(synthetic, build_labeler("panel", options))
    assert again["labeled"] == 0 and again["cached"] == PAIRS


def test_too_few_gold_pairs_is_one_clear_error(synthetic):
    with pytest.raises(UserError, match="no labels from 'nobody'"):
        run_labeler(synthetic, build_labeler("panel", {"members": "rm", "gold": "nobody"}))
