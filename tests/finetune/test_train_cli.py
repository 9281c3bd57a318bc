"""The real thing from the command line: `prefsmith train rm` on the bundled MiniLM with the
hh-rlhf slice (a real Prefect run), then `prefsmith label` scores the store with the result."""

import pytest
from cli_runner import run_json, runner

from prefsmith.cli.app import app


@pytest.mark.slow
@pytest.mark.prefect
def test_train_rm_on_minilm_then_label_with_it(hh_datasets, tmp_path):
    store, output = str(hh_datasets.root), str(tmp_path / "rm")
    summary = run_json("train", "rm", "--store", store, "--dataset", "hh", "--output", output)
    assert summary["command"] == "train rm" and summary["test_pairs"] > 0
    assert 0.0 <= summary["test_accuracy"] <= 1.0
    labeled = run_json(
        "label", "--store", store, "--labeler", "reward_model", "--model", output, "--name", "rm-hh"
    )
    assert labeled["labeled"] == hh_datasets.count("candidates") and labeled["errors"] == 0


def test_train_mistakes_are_one_line_before_prefect_starts(hh_datasets, tmp_path):
    where = ["--store", str(hh_datasets.root)]
    out = ["--output", str(tmp_path / "o")]
    cases = [
        (["train", "dpo", "--dataset", "hh-rip", *out], "is a reward-in-prompt dataset"),
        (["train", "rm", "--dataset", "nope", *out], "no dataset 'nope'"),
        (["train", "sft", "--dataset", "hh-rip", "--set", "oops", *out], "expected KEY=VALUE"),
        (["train", "rm", "--dataset", "hh", "--config", "missing.yaml", *out], "no such file"),
        (["train", "openai", "--dataset", "hh", "--method", "dpo"], "--format openai"),
    ]
    for args, message in cases:
        result = runner.invoke(app, [*args, *where])
        assert result.exit_code == 2 and message in result.output, (args, result.output)


@pytest.mark.slow
@pytest.mark.prefect
def test_a_run_config_trains_after_its_build_as_a_subflow(tmp_path, tiny_encoder):
    from conftest import HH_SLICE

    config = tmp_path / "run.yaml"
    config.write_text(
        f"store: {tmp_path / 'store'}\n"
        f"ingest:\n  hh_rlhf:\n    - source: {HH_SLICE}\n"
        "build:\n  preference:\n    - name: hh\n      from_labelers: [human:hh-rlhf]\n"
        "      splits: {train: 0.8, test: 0.2}\n"
        f"train:\n  - trainer: rm\n    dataset: hh\n    output: {tmp_path / 'rm'}\n"
        f"    base: {tiny_encoder}\n    max_length: 64\n    settings: {{max_steps: 2}}\n"
    )
    summary = run_json("run", str(config))
    assert [stage["command"] for stage in summary["stages"]] == [
        "ingest hh-rlhf",
        "build preference",
        "train rm",
    ]
    assert summary["stages"][-1]["test_pairs"] > 0
    assert (tmp_path / "rm" / "model.safetensors").is_file()
