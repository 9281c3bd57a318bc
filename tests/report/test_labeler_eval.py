"""`eval labelers`: figures pinned on a 20-pair hand-made store, and on the bundled hh-rlhf slice
equal to a direct polars computation from the labels table."""

import numpy as np
import polars as pl
import pytest
from cli_runner import run_json

from prefsmith.report.labeler_eval import BOOTSTRAP, evaluate_labelers
from prefsmith.schemas.records import Candidate, Label, Prompt, to_table
from prefsmith.store import Store


@pytest.fixture
def hand_made(tmp_path):
    """20 prompts, each with a long and a short answer; the gold prefers the long one in 12.
    `rm` (scores): right on 15 pairs, wrong on 4, a tie on 1. `judge` (pairwise): right on
    10, wrong on 6, a tie on 2, inconsistent on 2. Returns the store and, per pair, the gold's
    verdict oriented as the evaluation orients it (+1: the smaller candidate id won)."""
    store = Store(tmp_path / "s")
    prompts, candidates, labels, oriented = [], [], [], []
    for i in range(20):
        prompt = Prompt(messages=[{"role": "user", "content": f"question {i}"}], source="t")
        long = Candidate(prompt.prompt_id, "a long answer " * 5 + str(i), "t")
        short = Candidate(prompt.prompt_id, f"short {i}", "t")
        prompts.append(prompt)
        candidates += [long, short]
        winner, loser = (long, short) if i < 12 else (short, long)
        ids = [winner.candidate_id, loser.candidate_id]
        oriented.append(1 if winner.candidate_id < loser.candidate_id else -1)
        labels.append(Label("gold", "fp", "pairwise", prompt.prompt_id, ids, [1.0, 0.0]))
        # rm: right on 0-14, wrong on 15-18, a tie on 19
        right, tie = i < 15, i == 19
        rm = {winner.candidate_id: 2.0 if right else 1.0, loser.candidate_id: 1.0 if right else 2.0}
        if tie:
            rm = dict.fromkeys(rm, 1.0)
        labels += [Label("rm", "fp", "score", prompt.prompt_id, [c], [s]) for c, s in rm.items()]
        # judge: right on 0-9, wrong on 10-15, tie on 16-17, inconsistent on 18-19
        if i < 10:
            scores, error = [1.0, 0.0], None
        elif i < 16:
            scores, error = [0.0, 1.0], None
        elif i < 18:
            scores, error = [0.5, 0.5], None
        else:
            scores, error = None, "inconsistent"
        details = {"order_ab": "A", "order_ba": "B"} if error is None else {}
        labels.append(
            Label("judge", "fp", "pairwise", prompt.prompt_id, ids, scores, details, error)
        )
    store.write("prompts", to_table("prompts", prompts))
    store.write("candidates", to_table("candidates", candidates))
    store.write("labels", to_table("labels", labels))
    return store, oriented


def test_the_figures_of_a_hand_made_store(hand_made):
    store, oriented = hand_made
    report = evaluate_labelers(store, "gold", seed=0)
    assert report["gold_pairs"] == 20
    rm, judge = report["labelers"]["rm"], report["labelers"]["judge"]
    assert (rm["n"], rm["accuracy"], rm["ties"], rm["inconsistent"]) == (
        19,
        round(15 / 19, 4),
        1,
        0,
    )
    assert (judge["n"], judge["accuracy"], judge["ties"], judge["inconsistent"]) == (
        16,
        0.625,
        2,
        2,
    )

    # Cohen's kappa by hand: the judge is right on pairs 0-9 and wrong on 10-15.
    truth = np.array(oriented[:16])
    said = np.where(np.arange(16) < 10, truth, -truth)
    observed = (said == truth).mean()
    expected = sum((said == v).mean() * (truth == v).mean() for v in (1, -1))
    assert judge["kappa"] == round((observed - expected) / (1 - expected), 4)

    # Length bias: rm prefers the longer answer where it is right on 0-11 (the gold's long
    # winners) and wrong on 15-18 (short winners): 16 of its 19 decided pairs.
    assert rm["length_bias"] == round(16 / 19, 4)
    assert rm["gold_length_bias"] == round(12 / 19, 4)
    assert judge["first_position_win_rate"] == 0.5  # every judged pair: A, then B

    # The interval is a seeded percentile bootstrap over the decided pairs (15 of 19 right),
    # the number right in a resample drawn as Binomial(19, 15/19): what resampling the
    # pairs themselves gives, within the bootstrap's own noise.
    means = np.random.default_rng(0).binomial(19, 15 / 19, size=BOOTSTRAP) / 19
    assert rm["ci95"] == [round(float(np.percentile(means, q)), 4) for q in (2.5, 97.5)]
    assert rm["ci95"][0] < rm["accuracy"] < rm["ci95"][1]
    correct = np.array([1.0] * 15 + [0.0] * 4)
    resampled = correct[np.random.default_rng(1).integers(0, 19, size=(20_000, 19))].mean(axis=1)
    assert rm["ci95"] == pytest.approx([np.percentile(resampled, q) for q in (2.5, 97.5)], abs=0.06)

    # Calibration (labelers with scores and >= 10 decided pairs): P(first preferred) from a
    # logistic fit on the score difference (+-1 here, right on 15 of 19), then its Brier score
    # and 10-bin ECE. Pinned: a change in either computation shows here.
    assert (rm["brier"], rm["ece"]) == (0.1669, 0.0564)
    assert judge.get("brier") is None  # a pairwise judge has no scores to calibrate


def test_accuracy_on_the_hh_slice_equals_a_direct_polars_computation(hh_datasets):
    report = run_json("eval", "labelers", "--store", str(hh_datasets.root), "--gold",
                      "human:hh-rlhf", "--labelers", "rm-helpful,rm-harmless")  # fmt: skip
    labels = hh_datasets.scan("labels").collect()
    gold = (
        labels.filter(pl.col("labeler") == "human:hh-rlhf")
        .select("candidate_ids")
        .with_columns(
            chosen=pl.col("candidate_ids").list.get(0), rejected=pl.col("candidate_ids").list.get(1)
        )
    )
    for name in ("rm-helpful", "rm-harmless"):
        scores = labels.filter(pl.col("labeler") == name).select(
            candidate=pl.col("candidate_ids").list.get(0), score=pl.col("scores").list.get(0)
        )
        pairs = gold.join(scores.rename({"candidate": "chosen", "score": "s_chosen"}), on="chosen")
        pairs = pairs.join(
            scores.rename({"candidate": "rejected", "score": "s_rejected"}), on="rejected"
        )
        decided = pairs.filter(pl.col("s_chosen") != pl.col("s_rejected"))
        accuracy = (decided["s_chosen"] > decided["s_rejected"]).mean()
        figures = report["labelers"][name]
        assert figures["n"] == decided.height
        assert figures["ties"] == pairs.height - decided.height
        assert figures["accuracy"] == round(accuracy, 4)
        assert figures["ci95"][0] <= figures["accuracy"] <= figures["ci95"][1]


def test_by_splits_the_figures_by_a_prompt_field(hh_datasets):
    report = run_json("eval", "labelers", "--store", str(hh_datasets.root), "--gold",
                      "human:hh-rlhf", "--labelers", "rm-helpful", "--by", "source")  # fmt: skip
    groups = report["labelers"]["rm-helpful"]["groups"]
    assert set(groups) == {"hh-rlhf:harmless-base-test"}
    assert groups["hh-rlhf:harmless-base-test"]["n"] == report["labelers"]["rm-helpful"]["n"]
    by_origin = run_json("eval", "labelers", "--store", str(hh_datasets.root), "--gold",
                         "human:hh-rlhf", "--labelers", "rm-helpful", "--by", "origin")  # fmt: skip
    by_pair = by_origin["labelers"]["rm-helpful"]["groups"]  # the two answers' origins
    assert all(" vs " in group for group in by_pair)
    assert sum(g["n"] for g in by_pair.values()) == report["labelers"]["rm-helpful"]["n"]


def test_a_rewardbench_file_is_the_gold_with_subsets_and_sections(tmp_path):
    """RewardBench's layout: ingested into the store, then every labeler per subset and the
    section averages (example-weighted)."""
    rows = []
    for subset, n, longer_wins in (("alpacaeval-easy", 4, 4), ("mt-bench-hard", 6, 3),
                                   ("xstest-should-refuse", 5, 1)):  # fmt: skip
        for i in range(n):
            long, short = f"a long and careful answer number {i} " * 3, f"short {i}"
            chosen, rejected = (long, short) if i < longer_wins else (short, long)
            rows.append({"prompt": f"{subset} question {i}", "chosen": chosen,
                         "rejected": rejected, "subset": subset})  # fmt: skip
    rows.append(dict(rows[0]))  # a repeated row is a reject by reason, never silent
    path = tmp_path / "rb.parquet"
    pl.DataFrame(rows).write_parquet(path)
    store_dir = str(tmp_path / "s")
    first = run_json("eval", "labelers", "--store", store_dir, "--rewardbench", str(path))
    assert first["gold_pairs"] == 15 and first["labelers"] == {}  # nothing labeled it yet
    assert first["rewardbench"]["ingested"]["labels"] == 15
    assert first["rewardbench"]["rejects_by_reason"] == {"duplicate_pair": 1}

    store = Store(store_dir)
    candidates = store.scan("candidates").select("prompt_id", "candidate_id", "content").collect()
    lengthy = [Label("length", "fp", "score", p, [c], [float(len(t))])
               for p, c, t in candidates.iter_rows()]  # fmt: skip
    store.write("labels", to_table("labels", lengthy))
    report = run_json("eval", "labelers", "--store", store_dir, "--rewardbench", str(path))
    assert report["rewardbench"]["ingested"]["labels"] == 0  # the same file again: nothing new
    figures = report["labelers"]["length"]
    groups = figures["groups"]
    assert groups["alpacaeval-easy"]["accuracy"] == 1.0
    assert groups["mt-bench-hard"]["accuracy"] == 0.5
    assert groups["xstest-should-refuse"]["accuracy"] == 0.2
    assert figures["sections"] == {"Chat": 1.0, "Chat Hard": 0.5, "Safety": 0.2,
                                   "Score": round((1.0 + 0.5 + 0.2) / 3, 4)}  # fmt: skip


def test_gold_and_rewardbench_are_one_or_the_other(tmp_path):
    from cli_runner import runner

    from prefsmith.cli.app import app

    result = runner.invoke(app, ["eval", "labelers", "--store", str(tmp_path)])
    assert result.exit_code == 2 and "give --gold LABELER or --rewardbench FILE" in result.stderr
