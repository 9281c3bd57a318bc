"""The ingest engine, Prefect-free: real sample rows, every reject reason, reruns."""

import gzip
import json
import shutil
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl, ingest_hh_rows
from prefsmith.ingest.sources import (
    SourceFile,
    iter_file,
    jsonl_spans,
    read_jsonl_blocks,
    resolve_files,
)
from prefsmith.schemas.records import load_json
from prefsmith.store import Store

DATA = Path(__file__).parents[1] / "data"
HH_SLICE = DATA / "hh_rlhf_harmless_test_120.jsonl"


def ingest(path: Path, store: Store, **options):
    report = None
    for source in resolve_files(str(path), ("jsonl", "parquet")):
        done = ingest_hh_rows(
            iter_file(source), store, source_key=str(source.path), source_name="hh", **options
        )
        report = done if report is None else (report.merge(done) or report)
    return report


def test_real_slice_becomes_prompts_candidates_and_human_labels(store_dir):
    store = Store(store_dir)
    report = ingest(HH_SLICE, store)
    assert (report.rows_read, report.rows_used) == (120, 119)
    assert dict(report.rejects_by_reason) == {"empty_answer": 1}
    labels = store.scan("labels").collect()
    candidates = store.scan("candidates").collect()
    assert labels.height == 119 and set(labels["labeler"]) == {"human:hh-rlhf"}
    assert set(labels["kind"]) == {"pairwise"} and labels["scores"].to_list()[0] == [1.0, 0.0]
    origin = dict(zip(candidates["candidate_id"], candidates["origin"], strict=True))
    for chosen, rejected in labels["candidate_ids"].to_list():
        assert (origin[chosen], origin[rejected]) == ("hh-rlhf:chosen", "hh-rlhf:rejected")
    # Every label's items exist and belong to the label's prompt.
    by_id = candidates.select("candidate_id", "prompt_id").rows_by_key("candidate_id")
    for prompt_id, items in labels.select("prompt_id", "candidate_ids").iter_rows():
        assert all(by_id[item][0][0] == prompt_id for item in items)
    prompts = store.scan("prompts").collect()
    assert set(labels["prompt_id"]) <= set(prompts["prompt_id"])
    reject = store.scan("rejects").collect().row(0, named=True)
    assert (reject["line"], reject["reason"]) == (87, "empty_answer")
    assert json.loads(reject["raw"])["chosen"].endswith("Assistant: ")
    assert load_json(labels["details"][0]) == {"source": "hh", "line": 1}


def test_second_ingest_adds_nothing(store_dir):
    store = Store(store_dir)
    ingest(HH_SLICE, store)
    counts = store.summary()["tables"]
    again = ingest(HH_SLICE, Store(store_dir))
    assert sum(again.added.values()) == 0
    assert again.duplicates["labels"] == 119 and again.duplicates["rejects"] == 1
    assert Store(store_dir).summary()["tables"] == counts


def test_each_reject_reason_from_a_file(store_dir, write_jsonl):
    good = {"chosen": "\n\nHuman: Hi\n\nAssistant: A", "rejected": "\n\nHuman: Hi\n\nAssistant: B"}
    path = write_jsonl(
        "mixed.jsonl",
        [
            good,
            b'{"chosen": "\xff\xfe"}',
            "{not json",
            "[1, 2]",
            {"chosen": "x"},
            {**good, "rejected": "\n\nHuman: Other\n\nAssistant: B"},
            {**good, "chosen": "\n\nHuman: Hi"},
            {**good, "chosen": "\n\nHuman: Hi\n\nAssistant:  "},
            {**good, "rejected": good["chosen"]},
            "",
        ],
    )
    report = ingest(path, Store(store_dir))
    assert report.rows_used == 1
    assert dict(report.rejects_by_reason) == {
        "undecodable_bytes": 1,
        "invalid_json": 2,
        "missing_keys": 1,
        "prompt_mismatch": 1,
        "no_final_assistant_turn": 1,
        "empty_answer": 1,
        "identical_answers": 1,
    }
    rejects = Store(store_dir).scan("rejects").collect().sort("line")
    assert rejects["line"].to_list() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert "\\xff" in rejects["raw"][0]


def test_allow_empty_keeps_the_pair(store_dir):
    report = ingest(HH_SLICE, Store(store_dir), allow_empty=True)
    assert report.rows_used == 120 and not report.rejects_by_reason


def test_gzip_parquet_and_directories_read_the_same_rows(tmp_path, store_dir):
    folder = tmp_path / "in"
    folder.mkdir()
    lines = HH_SLICE.read_bytes().splitlines()
    with gzip.open(folder / "a.jsonl.gz", "wb") as handle:
        handle.write(b"\n".join(lines[:60]) + b"\n")
    rows = [json.loads(line) for line in lines[60:]]
    pq.write_table(pa.Table.from_pylist(rows), folder / "b.parquet")
    shutil.copy(HH_SLICE, tmp_path / "ignored.txt")  # not a data file: skipped
    report = ingest(folder, Store(store_dir))
    assert (report.rows_read, report.rows_used) == (120, 119)
    reference = Store(tmp_path / "reference")
    ingest(HH_SLICE, reference)
    ids = lambda s: set(s.scan("labels").collect()["label_id"])  # noqa: E731
    assert ids(Store(store_dir)) == ids(reference)


def test_progress_callback_reaches_the_file_size():
    seen = []
    list(iter_file(SourceFile(HH_SLICE, "jsonl"), seen.append))
    assert seen[-1] == HH_SLICE.stat().st_size


def test_batched_writes_make_several_parts_with_the_same_content(store_dir, tmp_path):
    store = Store(store_dir)
    ingest(HH_SLICE, store, batch_rows=25)
    assert len(store.parts("labels")) == 5
    whole = Store(tmp_path / "whole")
    ingest(HH_SLICE, whole)
    key = pl.col("label_id")
    assert (
        store.scan("labels")
        .select(key)
        .collect()
        .sort("label_id")
        .equals(whole.scan("labels").select(key).collect().sort("label_id"))
    )


def test_block_and_worker_paths_store_what_the_per_row_path_stores(
    store_dir, tmp_path, write_jsonl
):
    lines = HH_SLICE.read_bytes().splitlines()
    path = write_jsonl("hh.jsonl", [*lines[:50], b"{broken", *lines[50:]])
    per_row = Store(tmp_path / "per-row")
    ingest_hh_rows(iter_file(SourceFile(path, "jsonl")), per_row, source_key="k", source_name="hh")
    blocks, workers = Store(tmp_path / "blocks"), Store(store_dir)
    one = ingest_hh_jsonl(path, blocks, source_key="k", source_name="hh", workers=1)
    two = ingest_hh_jsonl(
        path, workers, source_key="k", source_name="hh", workers=2, block_bytes=20_000
    )
    assert one.to_dict() | {"seconds": 0} == two.to_dict() | {"seconds": 0}
    assert (one.rows_read, one.rows_used, dict(one.rejects_by_reason)) == (
        121,
        119,
        {"empty_answer": 1, "invalid_json": 1},
    )
    assert len(workers.parts("labels")) > 1
    for table, key in (
        ("prompts", "prompt_id"),
        ("candidates", "candidate_id"),
        ("labels", "label_id"),
        ("rejects", "reject_id"),
    ):
        columns = [c for c in per_row.scan(table).collect_schema().names() if c != "created_at"]
        expected = per_row.scan(table).select(columns).collect().sort(key)
        for store in (blocks, workers):
            assert store.scan(table).select(columns).collect().sort(key).equals(expected), table
    assert workers.scan("rejects").collect().sort("line")["line"].to_list() == [51, 88]


@pytest.mark.parametrize("ending", [b"\n", b""])
@pytest.mark.parametrize("block_bytes", [1, 5, 8, 9, 64])
def test_worker_spans_are_the_blocks_of_whole_lines(tmp_path, ending, block_bytes):
    path = tmp_path / "lines.jsonl"
    path.write_bytes(b"a\nbb\n\nccccccccccccccc\ndd" + ending)  # a line longer than a block
    spans = list(jsonl_spans(path, block_bytes))
    blocks = list(read_jsonl_blocks(path, block_bytes))
    assert b"".join(span.read() for _, span in spans) == path.read_bytes()
    assert [span.line_count for _, span in spans] == [
        len(span.read().removesuffix(b"\n").split(b"\n")) for _, span in spans
    ]
    assert all(span.read().endswith(b"\n") for _, span in spans[:-1])
    assert [line for line, _ in spans] == [
        1 + b"".join(span.read() for _, span in spans[:i]).count(b"\n") for i in range(len(spans))
    ]
    assert b"".join(data for _, data, _ in blocks) == path.read_bytes()


def test_an_empty_file_has_no_spans(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    assert list(jsonl_spans(path, 8)) == []
