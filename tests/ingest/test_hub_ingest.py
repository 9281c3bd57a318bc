"""`prefsmith ingest ... ORG/NAME` from the Hub, at its HTTP boundary (tests/fake_hub.py): the
repos are laid out as the real ones, and the store must hold what a local-file ingest of the
same rows gives."""

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cli_runner import run_json
from fake_hub import FakeHub, point_huggingface_at

from prefsmith.store import Store

ROOT = Path(__file__).parents[2]
HH_600 = ROOT / "data" / "hh-rlhf" / "harmless-base-test.first600.jsonl"
MT_BENCH = Path(__file__).parents[1] / "data" / "mt_bench_questions_18.jsonl"


@pytest.fixture
def hh_lines() -> list[bytes]:
    return HH_600.read_bytes().splitlines(keepends=True)


def _store_rows(store_dir: Path, table: str) -> list[tuple]:
    frame = Store(store_dir).scan(table).collect()
    columns = {
        "prompts": ["prompt_id", "messages"],
        "candidates": ["candidate_id", "prompt_id", "content", "origin"],
        "labels": ["labeler", "prompt_id", "candidate_ids", "scores"],
        "rejects": ["line", "reason", "raw"],
    }[table]
    return sorted(json.dumps(row, sort_keys=True) for row in frame.select(columns).to_dicts())


def _tables(store_dir: Path) -> dict[str, list]:
    return {t: _store_rows(store_dir, t) for t in ("prompts", "candidates", "labels", "rejects")}


def test_hh_rlhf_from_the_hub_stores_what_the_same_local_rows_give(hh_lines, tmp_path, monkeypatch):
    test_rows, train_rows = b"".join(hh_lines[:90]), b"".join(hh_lines[90:150])
    hub = FakeHub(
        {
            "Anthropic/hh-rlhf": {
                "README.md": b"---\nlicense: mit\n---\n# HH-RLHF\n",
                "harmless-base/test.jsonl.gz": gzip.compress(test_rows),
                "harmless-base/train.jsonl.gz": gzip.compress(train_rows),
                "helpful-base/test.jsonl.gz": gzip.compress(b"".join(hh_lines[150:170])),
                "red-team-attempts/red_team_attempts.jsonl.gz": gzip.compress(b"[]\n"),
            }
        }
    )
    point_huggingface_at(hub, monkeypatch, tmp_path / "cache")
    local = tmp_path / "harmless-base-test.jsonl"
    local.write_bytes(test_rows)
    try:
        summary = run_json(
            "ingest", "hh-rlhf", "Anthropic/hh-rlhf", "--subset", "harmless-base",
            "--split", "test", "--store", str(tmp_path / "hub-store"),
        )  # fmt: skip
    finally:
        hub.close()
    run_json("ingest", "hh-rlhf", str(local), "--store", str(tmp_path / "file-store"))
    assert hub.unknown == []
    fetched = [r["path"] for r in hub.requests if r["method"] == "GET" and "/resolve/" in r["path"]]
    assert any(p.endswith("/harmless-base/test.jsonl.gz") for p in fetched)
    assert not any("helpful-base" in p for p in fetched)  # only the subset asked for
    assert summary["rows_read"] == 90 and summary["rows_used"] >= 89
    hub_tables, file_tables = _tables(tmp_path / "hub-store"), _tables(tmp_path / "file-store")
    assert len(hub_tables["labels"]) == summary["rows_used"]
    for table in ("prompts", "candidates", "labels"):
        assert hub_tables[table] == file_tables[table], table
    assert len(hub_tables["rejects"]) == len(file_tables["rejects"])


def test_a_prompt_set_from_the_hub_stores_what_the_same_local_file_gives(tmp_path, monkeypatch):
    rows = [json.loads(line) for line in MT_BENCH.read_text().splitlines()]
    table = pa.Table.from_pylist(rows)
    local = tmp_path / "train-00000-of-00001.parquet"
    pq.write_table(table, local)
    hub = FakeHub(
        {
            "my-org/mt-prompts": {
                "README.md": b"---\nconfigs:\n- config_name: default\n  data_files:\n"
                b"  - split: train\n    path: data/train-*\n---\n",
                "data/train-00000-of-00001.parquet": local.read_bytes(),
            }
        }
    )
    point_huggingface_at(hub, monkeypatch, tmp_path / "cache")
    try:
        summary = run_json(
            "ingest", "prompts", "my-org/mt-prompts", "--store", str(tmp_path / "hub-store")
        )
    finally:
        hub.close()
    run_json("ingest", "prompts", str(local), "--store", str(tmp_path / "file-store"))
    assert hub.unknown == []
    assert (summary["rows_read"], summary["rows_used"]) == (len(rows), len(rows))
    hub_prompts = _store_rows(tmp_path / "hub-store", "prompts")
    assert len(hub_prompts) == len(rows)
    assert hub_prompts == _store_rows(tmp_path / "file-store", "prompts")


def test_a_missing_hub_dataset_is_one_line_before_any_work(tmp_path, monkeypatch):
    from cli_runner import runner

    from prefsmith.cli.app import app

    hub = FakeHub({})
    point_huggingface_at(hub, monkeypatch, tmp_path / "cache")
    try:
        result = runner.invoke(
            app, ["ingest", "prompts", "my-org/nope", "--store", str(tmp_path / "s")]
        )
    finally:
        hub.close()
    assert result.exit_code != 0
    assert "no dataset my-org/nope on the Hugging Face Hub" in result.output
    assert [r["path"] for r in hub.requests if r["path"].startswith("/api/datasets/")] == [
        "/api/datasets/my-org/nope"
    ]
