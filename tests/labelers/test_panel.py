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


def test_a_rerun_with_the_same_labels_is_cached_and_new_gold_refits(tmp_path, synthetic):
    store = Store(tmp_path / "copy")
    for table in ("prompts", "candidates", "labels"):
        store.write(table, synthetic.scan(table).collect().to_arrow())
    options = {"members": "rm,lengthy", "gold": "gold", "name": "panel-rerun"}
    first = run_labeler(store, build_labeler("panel", options))
    again = run_labeler(store, build_labeler("panel", options))
    assert first["labeled"] == PAIRS and again["labeled"] == 0 and again["cached"] == PAIRS
    gold = store.scan("labels").collect().filter(labeler="gold").to_dicts()[:50]
    more = [Label("gold", "fp2", "pairwise", g["prompt_id"], g["candidate_ids"][::-1], [0.0, 1.0])
            for g in gold]  # fmt: skip
    store.write("labels", to_table("labels", more))  # a newer gold fingerprint: a new fit
    refit = run_labeler(store, build_labeler("panel", options))
    assert refit["labeled"] == PAIRS and refit["gold_pairs"] == 50


def test_too_few_gold_pairs_is_one_clear_error(synthetic):
    with pytest.raises(UserError, match="no labels from 'nobody'"):
        run_labeler(synthetic, build_labeler("panel", {"members": "rm", "gold": "nobody"}))
    gold = synthetic.scan("labels").collect().filter(labeler="gold").to_dicts()[:7]
    few = [Label("few-gold", "fp", "pairwise", g["prompt_id"], g["candidate_ids"], g["scores"])
           for g in gold]  # fmt: skip
    synthetic.write("labels", to_table("labels", few))
    options = {"members": "rm", "gold": "few-gold", "min_overlap": 0}
    with pytest.raises(UserError, match="7 decided gold pairs in few-gold; need at least 10"):
        run_labeler(synthetic, build_labeler("panel", options))


@pytest.fixture(scope="module")
def with_a_sparse_member(synthetic):
    """`sparse` scored the answers of 10 gold pairs only."""
    rows = synthetic.scan("labels").collect().filter(labeler="rm").to_dicts()[:20]
    sparse = [Label("sparse", "fp", "score", r["prompt_id"], r["candidate_ids"], r["scores"])
              for r in rows]  # fmt: skip
    synthetic.write("labels", to_table("labels", sparse))
    return synthetic


def test_a_member_that_judged_too_few_gold_pairs_is_refused_by_name(with_a_sparse_member):
    options = {"members": "rm,sparse", "gold": "gold", "name": "panel-sparse"}
    with pytest.raises(
        UserError, match=r"sparse judged \d+ of the 400 gold pairs \(min_overlap 30\)"
    ):
        run_labeler(with_a_sparse_member, build_labeler("panel", options))


def test_drop_sparse_fits_without_it_and_says_so(with_a_sparse_member, caplog):
    options = {"members": "rm,sparse", "gold": "gold", "name": "panel-dropped",
               "drop_sparse": True}  # fmt: skip
    summary = run_labeler(with_a_sparse_member, build_labeler("panel", options))
    assert summary["panel_dropped"] == ["sparse"]
    assert summary["panel_coverage"]["rm"] == PAIRS and summary["panel_coverage"]["sparse"] < 30
    assert "sparse" not in summary["panel_weights"] and "rm" in summary["panel_weights"]
    assert any("sparse judged" in r.getMessage() and "dropped" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    lowered = {**options, "name": "panel-low", "drop_sparse": False, "min_overlap": 1}
    kept = run_labeler(with_a_sparse_member, build_labeler("panel", lowered))
    assert "sparse" in kept["panel_weights"] and not kept["panel_dropped"]
