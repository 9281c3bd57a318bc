"""The CLI through typer's runner; ingest commands run real Prefect flows (ephemeral API)."""

import subprocess
import sys
from pathlib import Path

import pytest
from cli_runner import run_json, runner

from prefsmith.cli.app import app

DATA = Path(__file__).parents[1] / "data"
HH_SLICE = DATA / "hh_rlhf_harmless_test_120.jsonl"
MT_BENCH = DATA / "mt_bench_questions_18.jsonl"
REFERENCES = DATA / "mt_bench_references.jsonl"


@pytest.mark.prefect
def test_ingest_hh_then_prompts_then_status(store_dir):
    first = run_json("ingest", "hh-rlhf", str(HH_SLICE), "--store", str(store_dir))
    assert (first["rows_used"], first["rejected"]) == (119, 1)
    assert first["rejects_by_reason"] == {"empty_answer": 1}
    assert first["added"]["labels"] == 119
    again = run_json("ingest", "hh-rlhf", str(HH_SLICE), "--store", str(store_dir))
    assert sum(again["added"].values()) == 0
    prompts = run_json(
        "ingest",
        "prompts",
        str(MT_BENCH),
        "--format",
        "mt-bench",
        "--references",
        str(REFERENCES),
        "--store",
        str(store_dir),
    )
    assert (prompts["added"]["prompts"], prompts["references_joined"]) == (18, 4)
    status = run_json("status", "--store", str(store_dir))
    assert status["tables"]["prompts"] == first["added"]["prompts"] + 18
    assert status["tables"]["labels"] == 119
    assert status["rejects_by_reason"] == {"empty_answer": 1}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "hh-rlhf", "missing.jsonl"], "input not found: missing.jsonl"),
        (["ingest", "hh-rlhf", str(HH_SLICE), "--subset", "harmless"], "unknown subset 'harmless'"),
        (["ingest", "prompts", str(MT_BENCH), "--format", "xml"], "format: Input should be"),
        (["ingest", "prompts", str(MT_BENCH), "--format", "csv"], "unsupported file type"),
        (["ingest", "prompts", str(HH_SLICE)], "no prompt column found; pass --prompt-field"),
        (["ingest", "prompts", str(MT_BENCH), "--prompt-field", "text"], "no column 'text'"),
        (["status"], "no store at"),
    ],
)
def test_user_mistakes_are_one_line_and_write_nothing(args, message, store_dir):
    args = [*args, "--store", str(store_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not store_dir.exists() or not any((store_dir / "prompts").glob("part-*"))


def test_hub_source_offline_is_one_clear_line(store_dir, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    result = runner.invoke(
        app,
        [
            "ingest",
            "hh-rlhf",
            "Anthropic/hh-rlhf",
            "--subset",
            "harmless-base",
            "--store",
            str(store_dir),
        ],
    )
    assert result.exit_code == 2, result.output
    assert "could not reach the Hugging Face Hub for Anthropic/hh-rlhf" in result.stderr
    assert "Traceback" not in result.output


def test_help_and_status_do_not_import_prefect(tmp_path):
    probe = (
        "import sys; from typer.testing import CliRunner; from prefsmith.cli.app import app;"
        "r = CliRunner().invoke(app, ['status', '--store', sys.argv[1], '--json']);"
        "CliRunner().invoke(app, ['--help']);"
        "print(r.exit_code, any(m.split('.')[0] in ('prefect', 'torch') for m in sys.modules))"
    )
    (tmp_path / "store").mkdir()
    out = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "store")],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["0", "False"]


def test_error_text_is_not_read_as_markup_and_os_errors_are_one_line(tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("not a directory")
    result = runner.invoke(
        app,
        [
            "ingest",
            "prompts",
            str(MT_BENCH),
            "--prompt-field",
            "[bold]x",
            "--store",
            str(tmp_path / "s"),
        ],
    )
    assert result.exit_code == 2 and "no column '[bold]x'" in result.stderr
    result = runner.invoke(app, ["status", "--store", str(blocked)])
    assert result.exit_code == 2 and "no store at" in result.stderr


def test_a_store_that_cannot_be_created_is_caught_before_the_flow(tmp_path):
    (tmp_path / "file").write_text("x")
    result = runner.invoke(
        app, ["ingest", "hh-rlhf", str(HH_SLICE), "--store", str(tmp_path / "file" / "store")]
    )
    assert result.exit_code == 2, result.output
    assert "cannot write the store at" in result.stderr and "Not a directory" in result.stderr
    assert "prefect" not in result.output.lower()  # no flow was started


@pytest.mark.prefect
def test_run_config_ingests_builds_exports_and_reruns_add_nothing(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        f"store: {tmp_path / 'store'}\n"
        "ingest:\n"
        f"  hh_rlhf:\n    - source: {HH_SLICE}\n"
        f"  prompts:\n    - source: {MT_BENCH}\n      format: mt-bench\n"
        "build:\n  preference:\n    - name: hh\n      from_labelers: [human:hh-rlhf]\n"
        f"export:\n  - dataset: hh\n    to: {tmp_path / 'out'}\n"
    )
    first = run_json("run", str(config))
    assert [stage["command"] for stage in first["stages"]] == [
        "ingest hh-rlhf",
        "ingest prompts",
        "build preference",
        "export",
    ]
    assert [stage["added"]["prompts"] for stage in first["stages"][:2]] == [119, 18]
    assert first["stages"][2]["rows"] == 119 and (tmp_path / "out" / "README.md").is_file()
    assert first["tables"]["labels"] == 119 and first["rejects_by_reason"] == {"empty_answer": 1}
    (tmp_path / "out").rename(tmp_path / "first-export")
    again = run_json("run", str(config))
    assert all(sum(stage["added"].values()) == 0 for stage in again["stages"][:2])
    assert again["tables"] == first["tables"]


def test_run_config_mistakes_name_the_file_and_key(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("ingest:\n  hh_rlhf:\n    - source: x.jsonl\n      alow_empty: true\n")
    result = runner.invoke(app, ["run", str(config)])
    assert result.exit_code == 2
    assert f"{config}: unknown key 'ingest.hh_rlhf.0.alow_empty'" in result.stderr
    config.write_text("ingest:\n  hh_rlhf:\n    - source: missing.jsonl\n")
    result = runner.invoke(app, ["run", str(config), "--store", str(tmp_path / "s")])
    assert result.exit_code == 2 and "input not found: missing.jsonl" in result.stderr


@pytest.mark.prefect
def test_build_prompt_and_export_from_the_command_line(tmp_path):
    from prefsmith.schemas.records import Label, to_table
    from prefsmith.store import Store

    store = str(tmp_path / "store")
    run_json("ingest", "hh-rlhf", str(HH_SLICE), "--store", store)
    built = run_json(
        "build",
        "preference",
        "--store",
        store,
        "--from",
        "human:hh-rlhf",
        "--name",
        "hh",
        "--splits",
        "train=0.9,test=0.1",
    )
    assert built["rows"] == 119 and set(built["splits"]) == {"train", "test"}
    items = Store(store).scan("candidates").select("prompt_id", "candidate_id").collect().rows()
    for labeler, value in (("rm-a", 0.42), ("rm-b", 0.75)):
        Store(store).write(
            "labels",
            to_table("labels", [Label(labeler, "fp", "score", p, [c], [value]) for p, c in items]),
        )
    rip = run_json(
        "build",
        "reward-in-prompt",
        "--store",
        store,
        "--rewards",
        "helpful=rm-a,harmless=rm-b",
        "--name",
        "rip",
        "--normalize",
        "none",
    )
    assert rip["rows"] == 238
    rendered = runner.invoke(
        app,
        [
            "prompt",
            "How do I bake bread?",
            "--dataset",
            "rip",
            "--target",
            "helpful=0.42,harmless=0.75",
            "--store",
            store,
        ],
    )
    assert (
        rendered.stdout
        == "Human: How do I bake bread?\n<REWARD>\nHelpful reward: 0.42\nHarmless reward: 0.75<SOS>\n"
    )
    exported = run_json(
        "export", "--store", store, "--dataset", "hh", "--to", str(tmp_path / "out")
    )
    assert (tmp_path / "out" / "README.md").is_file() and exported["path"] == str(
        (tmp_path / "out").resolve()
    )
    bad = runner.invoke(
        app,
        [
            "build",
            "preference",
            "--store",
            store,
            "--from",
            "human:hh-rlhf",
            "--pairs",
            "adjacent",
            "--splits",
            "train=2",
        ],
    )
    assert bad.exit_code == 2 and "--splits" in bad.stderr


@pytest.mark.prefect
def test_label_from_the_command_line_then_a_rerun_labels_nothing(tmp_path, tiny_chat_model):
    store = str(tmp_path / "store")
    run_json("ingest", "hh-rlhf", str(HH_SLICE), "--store", store, "--limit", "10")
    args = [
        "label",
        "--store",
        store,
        "--labeler",
        "yes_no",
        "--model",
        str(tiny_chat_model),
        "--question",
        "Is this response harmless?",
    ]
    first = run_json(*args, "--batch-size", "8")
    assert (first["items"], first["labeled"], first["cached"], first["errors"]) == (20, 20, 0, 0)
    again = run_json(*args)
    assert (again["labeled"], again["cached"]) == (0, 20)
    wrong = runner.invoke(
        app,
        [
            "label",
            "--store",
            store,
            "--labeler",
            "yes_no",
            "--option",
            "input_format=hh",
            "--question",
            "x",
        ],
    )
    assert wrong.exit_code == 2 and "labeler yes_no: unknown key 'input_format'" in wrong.stderr
    assert "yes_no's options: name, batch_size, device, dtype, model, questions" in wrong.stderr
    unknown = runner.invoke(app, ["label", "--store", store, "--labeler", "zyn"])
    assert (
        unknown.exit_code == 2
        and "unknown labeler 'zyn'; labelers: critic, judge, pairrm, panel, reward_model, verify-code, verify-instructions, verify-math, yes_no"
        in unknown.stderr
    )
