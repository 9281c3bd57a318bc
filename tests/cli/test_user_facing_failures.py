"""Every user-facing failure is one `error:` line and exit 2, or a reject with a reason: a
truncated or fake gzip, a byte order mark, a name the file system or the Hub would refuse, a
dataset outside the store, an unreachable Hub. No traceback, no empty store left behind."""

import gzip
import json
from pathlib import Path

import pytest
from cli_runner import run_json, runner

from prefsmith.cli.app import app
from prefsmith.ingest.sources import GzipReader
from prefsmith.store import Store

HH = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def lines() -> list[bytes]:
    return HH.read_bytes().splitlines(keepends=True)[:40]


def test_a_truncated_gzip_keeps_every_whole_line_and_rejects_the_cut_one(tmp_path, lines):
    whole = gzip.compress(b"".join(lines))
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(whole[: len(whole) * 2 // 3])
    with GzipReader(cut) as reader:
        readable = reader.read(1 << 30)
    complete = readable.count(b"\n")
    assert 0 < complete < 40 and reader.truncated

    summary = run_json("ingest", "hh-rlhf", str(cut), "--store", str(tmp_path / "s"))
    assert summary["rows_used"] + summary["rejects_by_reason"].get("empty_answer", 0) == complete
    assert summary["rejects_by_reason"]["truncated_input"] == 1
    rejects = Store(tmp_path / "s").scan("rejects").collect().to_dicts()
    cut_row = next(r for r in rejects if r["reason"] == "truncated_input")
    assert cut_row["line"] == complete + 1 and readable.endswith(cut_row["raw"].encode())


def test_a_multi_member_gzip_reads_like_gzip_does(tmp_path, lines):
    path = tmp_path / "two.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(lines[:20])) + gzip.compress(b"".join(lines[20:])))
    with GzipReader(path) as reader:
        assert reader.read(1 << 30) == gzip.decompress(path.read_bytes())
        assert not reader.truncated


def test_a_file_named_gz_that_is_not_gzip_is_one_line_and_leaves_no_store(tmp_path, lines):
    fake = tmp_path / "plain.jsonl.gz"
    fake.write_bytes(b"".join(lines))
    line = one_error_line(
        runner.invoke(app, ["ingest", "hh-rlhf", str(fake), "--store", str(tmp_path / "s")])
    )
    assert "not a gzip file" in line
    assert not (tmp_path / "s").exists()


def test_a_byte_order_mark_loses_no_row(tmp_path, lines):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"".join(lines))
    summary = run_json("ingest", "hh-rlhf", str(path), "--store", str(tmp_path / "s"))
    assert summary["rows_read"] == 40 and "invalid_json" not in summary["rejects_by_reason"]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("built") / "s"
    run_json("ingest", "hh-rlhf", str(HH), "--store", str(store))
    run_json(
        "build", "preference", "--store", str(store), "--from", "human:hh-rlhf", "--name", "hh"
    )
    return store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["build", "preference", "--from", "human:hh-rlhf", "--name", "n" * 300],
         "is not a dataset name"),
        (["export", "--dataset", "../datasets/hh", "--to", "out"], "is not a dataset name"),
        (["export", "--dataset", "hh", "--to", "hub://../x"], "not a Hub repo id"),
        (["export", "--dataset", "hh", "--to", "hub://org/a--b"], "not a Hub repo id"),
    ],
)  # fmt: skip
def test_a_name_the_store_or_the_hub_would_refuse_is_one_line(built, tmp_path, args, message):
    result = runner.invoke(app, [*args, "--store", str(built)])
    assert message in one_error_line(result)
    assert not (tmp_path / "out").exists()


def test_an_unreachable_hub_is_one_line_and_uploads_nothing(built, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_TOKEN", "hf_notarealtokenbutlongenough")
    result = runner.invoke(
        app, ["export", "--store", str(built), "--dataset", "hh", "--to", "hub://org/hh"]
    )
    line = one_error_line(result)
    assert "could not reach the Hugging Face Hub at http://127.0.0.1:9" in line
    assert "hf_notarealtoken" not in result.output
    manifest = json.loads((built / "datasets" / "hh" / "manifest.json").read_text())
    assert manifest["kind"] == "preference"  # the dataset is untouched
