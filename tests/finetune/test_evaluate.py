"""`prefsmith eval` on tiny models: reward matching writes correlations and a scatter plot per
dimension; the DPO evaluation compares tuned and base answers by reward and by a judge."""

import json

import pytest
from cli_runner import run_json, runner
from fake_openai import FakeOpenAI, completion

from prefsmith.cli.app import app
from prefsmith.finetune.evaluate import _correlations, reward_matching


@pytest.fixture(scope="module")
def tiny_rm(tiny_encoder, tmp_path_factory):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = tmp_path_factory.mktemp("tiny-rm")
    AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=1).save_pretrained(
        path
    )
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(path)
    return str(path)


def test_correlations_are_pearson_and_spearman():
    stats = _correlations([0.1, 0.2, 0.3, 0.4], [1.0, 4.0, 9.0, 16.0])
    assert stats["spearman"] == 1.0 and 0.98 < stats["pearson"] < 1.0
    assert _correlations([0.1, 0.2], [1.0, 2.0]) == {"pearson": None, "spearman": None}


@pytest.mark.slow
def test_reward_matching_reports_each_dimension_with_a_plot(
    hh_datasets, tiny_chat_model, tiny_rm, tmp_path
):
    output = tmp_path / "eval"
    report = reward_matching(
        hh_datasets, "hh-rip", str(tiny_chat_model), {"helpful": tiny_rm, "harmless": tiny_rm},
        output, samples=8, max_new_tokens=8,
    )  # fmt: skip
    assert set(report["dimensions"]) == {"helpful", "harmless"}
    for dimension, stats in report["dimensions"].items():
        assert (
            stats["n"] == 8 and (output / f"reward_matching_{dimension}.png").stat().st_size > 1000
        )
    saved = json.loads((output / "eval.json").read_text())
    assert "<REWARD>" in saved["examples"][0]["prompt"] and saved["examples"][0]["prompt"].endswith(
        "<SOS>"
    )


@pytest.mark.slow
@pytest.mark.prefect
def test_eval_dpo_scores_both_policies_and_asks_the_judge(
    hh_datasets, tiny_chat_model, tiny_rm, tmp_path
):
    """Through the command line, as a user runs it: every flag is a field of the options."""
    judge = FakeOpenAI(lambda body: (200, completion("Equal. [[C]]")))
    try:
        report = run_json(
            "eval", "dpo", "--store", str(hh_datasets.root), "--dataset", "hh",
            "--policy", str(tiny_chat_model), "--rm", tiny_rm, "--output", str(tmp_path / "eval"),
            "--base", str(tiny_chat_model), "--judge-endpoint", judge.url, "--judge-model", "judge",
            "--samples", "4", "--max-new-tokens", "8", "--device", "cpu",
        )  # fmt: skip
    finally:
        judge.close()
    assert report["prompts"] == 4 and report["mean_reward_tuned"] == report["mean_reward_base"]
    assert report["judge_win_rate"] == 0.5 and report["judge_decided"] == 4
    assert report["judge_length_controlled_win_rate"] == 0.5  # ties only
    assert len(judge.calls) == 8  # both orders
    assert (tmp_path / "eval" / "dpo_rewards.png").stat().st_size > 1000


def test_eval_names_a_wrong_option_in_one_line(hh_datasets, tmp_path):
    result = runner.invoke(
        app,
        ["eval", "reward-matching", "--store", str(hh_datasets.root), "--dataset", "hh-rip",
         "--policy", "p", "--rm", "helpful", "--output", str(tmp_path / "eval")],
    )  # fmt: skip
    assert result.exit_code == 2 and "--reward-models: 'helpful' is not NAME=VALUE" in result.stderr
    assert "Traceback" not in result.output
