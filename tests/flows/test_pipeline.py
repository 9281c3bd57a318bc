"""The pipeline's config handling, and the README's main job run end to end."""

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
from cli_runner import runner

from prefsmith.cli.app import app
from prefsmith.flows.pipeline import check_run
from prefsmith.labelers.runner import in_sample
from prefsmith.report.run_report import tidy_markdown
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.run_config import load_run_config
from prefsmith.store import Store

REPO = Path(__file__).resolve().parents[2]


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(text)
    return path


def test_store_placeholder_follows_the_store_override(tmp_path):
    config = write_config(
        tmp_path,
        "store: s1\n"
        "label:\n  - labeler: reward_model\n    options: {model: '{store}/models/rm'}\n"
        "train:\n  - {trainer: dpo, dataset: d, output: '{store}/models/dpo'}\n",
    )
    run = load_run_config(config)
    assert run.label[0].options["model"] == "s1/models/rm"
    moved = load_run_config(config, store="/tmp/elsewhere")
    assert moved.store == "/tmp/elsewhere"
    assert moved.train[0].output == "/tmp/elsewhere/models/dpo"


def test_unknown_keys_are_named_with_their_path(tmp_path):
    config = write_config(tmp_path, "label:\n  - labeler: judge\n    optoins: {}\n")
    with pytest.raises(UserError, match=r"unknown key 'label\.0\.optoins'"):
        load_run_config(config)


def test_check_run_catches_mistakes_before_any_stage(tmp_path):
    store = str(tmp_path / "store")
    bad_option = write_config(
        tmp_path, "label:\n  - labeler: judge\n    options: {mode: pairwise, temprature: 1}\n"
    )
    with pytest.raises(UserError, match="temprature"):
        check_run(load_run_config(bad_option, store))
    missing = write_config(
        tmp_path, "train:\n  - {trainer: dpo, dataset: nowhere, output: '{store}/m'}\n"
    )
    with pytest.raises(UserError, match="neither built by this run"):
        check_run(load_run_config(missing, store))
    # A reward model that an earlier stage of the same run trains need not exist yet.
    trained_here = write_config(
        tmp_path,
        "reward_models:\n  - {name: rm-pairs, from_labelers: ['human:hh-rlhf']}\n"
        "label:\n  - labeler: reward_model\n    options: {model: '{store}/models/rm-pairs'}\n",
    )
    check_run(load_run_config(trained_here, store))


def test_self_reward_section_is_checked_before_any_stage(tmp_path):
    config = write_config(tmp_path, "self_reward: {iterations: 2, policy: '{store}/no-model'}\n")
    run = load_run_config(config, str(tmp_path / "store"))
    assert run.self_reward.policy == f"{tmp_path}/store/no-model"
    with pytest.raises(UserError, match="no-model"):
        check_run(run)
    shipped = load_run_config(REPO / "configs" / "self_reward.yaml")
    assert shipped.self_reward.iterations == 2


def test_run_with_a_bad_config_is_one_line(tmp_path):
    config = write_config(tmp_path, "generate: {n: 0}\n")
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 2
    assert "generate.n" in result.output and "Traceback" not in result.output


def test_tidy_markdown_separates_blocks():
    text = "# a\ntext\n| x |\n|---|\n| 1 |\n## b\n\n\n\nmore\n"
    assert tidy_markdown(text) == "# a\n\ntext\n\n| x |\n|---|\n| 1 |\n\n## b\n\nmore\n"


@pytest.mark.slow
@pytest.mark.prefect
def test_quickstart_runs_every_stage_and_reruns_for_free(tmp_path, monkeypatch, caplog):
    """The README's main job, as a user runs it (in a copy of the repo's configs and data)."""
    for folder in ("configs", "data"):
        shutil.copytree(REPO / folder, tmp_path / folder)
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["run", "configs/quickstart.yaml", "--json"])
    assert result.exit_code == 0, result.output
    # No library noise in the run's log: dill's bytecode scan (datasets' fingerprints) once
    # printed through Prefect's print capture, 221 lines of disassembly per training.
    noise = [r.getMessage() for r in caplog.records if "RETURN_VALUE" in r.getMessage()]
    assert noise == []
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    store = tmp_path / "quickstart-store"
    assert Path(summary["report"]).resolve() == store / "report" / "report.md"  # cwd: tmp_path
    report = Path(summary["report"]).read_text()
    for section in ("## Stages", "### Score distributions", "## Which labels to trust",
                    "## Agreement", "## Fine-tuning"):  # fmt: skip
        assert section in report
    trust = next(s for s in summary["stages"] if s.get("command") == "eval labelers")
    rm_hh = trust["labelers"]["rm-hh"]  # trained here: scored on its held-out pairs only
    assert rm_hh["in_training"] > 0 and rm_hh["n"] + rm_hh["in_training"] == 598
    assert "panel" in trust["labelers"]
    # Every labeler meets the gold (the judge and ZYN on a 5% sample of it), and the table's
    # figures are the command's.
    assert set(trust["labelers"]) == {"rm-hh", "yes_no", "judge", "panel"}
    trust_table = report.split("## Which labels to trust")[1].split("\n## ")[0]
    for name, figures in trust["labelers"].items():
        assert figures["n"] > 0, name
        row = next(line for line in trust_table.splitlines() if line.startswith(f"| {name} |"))
        accuracy = f"{figures['accuracy']:.4g} [{figures['ci95'][0]:.4g}, {figures['ci95'][1]:.4g}]"
        assert row.split("|")[2:5] == [
            f" {figures['n']} ",
            f" {figures.get('in_training') or 0} ",
            f" {accuracy} ",
        ]
    # The panel is fit on all three members, and says on how many gold pairs each one met it.
    weights = trust_table.split("| feature | weight | gold pairs judged |")[1]
    gold = Store(store).scan("labels").filter(pl.col("labeler") == "human:hh-rlhf").collect()
    hh_sampled = sum(in_sample(prompt_id, 0.05) for prompt_id in gold["prompt_id"])
    assert hh_sampled >= 30  # the panel's min_overlap
    for member, judged in (("rm-hh", 598), ("yes_no", hh_sampled), ("judge", hh_sampled)):
        assert f"| {member} |" in weights and weights.count(f"| {judged} |") >= 1, member
    assert "Not in the fit" not in trust_table and "| length |" in weights
    html = (store / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3  # scores, agreement, reward matching
    assert {Path(d).name for d in summary["datasets"]} == {
        "hh-rm-pairs",
        "hh-rlhf-harmless-pairs",
        "generated-pairs",
        "hh-reward-in-prompt",
    }
    stages = {s["stage"]: s for s in summary["stages"]}
    assert stages["generate"]["generated"] == 16  # 4 MT-Bench + 4 hh prompts, 2 answers each
    # The DPO pairs are decontaminated: none on an MT-Bench prompt, and the card counts them.
    pairs = json.loads((store / "datasets" / "generated-pairs" / "manifest.json").read_text())
    assert pairs["drops"].get("contaminated", 0) >= 1
    assert "| contaminated |" in (store / "datasets" / "generated-pairs" / "README.md").read_text()
    side = (store / "datasets" / "generated-pairs" / "contamination.jsonl").read_text()
    assert all(
        any(id_.startswith("mt_bench_questions:") for id_ in json.loads(line)["benchmark_ids"])
        for line in side.splitlines()
    )
    labels = summary["labels_by_labeler"]
    assert labels["rm-hh"] == summary["tables"]["candidates"]
    # the generated candidates, then the sample of the human pairs
    assert labels["yes_no"] == 16 + 2 * hh_sampled and labels["judge"] == 8 + hh_sampled
    assert (store / "models" / "dpo" / "prefsmith-train.json").is_file()
    assert (store / "eval" / "reward-matching" / "eval.json").is_file()

    again = runner.invoke(app, ["run", "configs/quickstart.yaml", "--json"])
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout.strip().splitlines()[-1])
    assert rerun["tables"] == summary["tables"]
    assert rerun["labels_by_labeler"] == labels
    by_command = [s for s in rerun["stages"] if s["stage"] in ("reward model", "train", "evaluate")]
    assert by_command and all(s.get("skipped") == "up to date" for s in by_command)
    assert all(s.get("labeled", 0) == 0 for s in rerun["stages"] if s["stage"] == "label")
