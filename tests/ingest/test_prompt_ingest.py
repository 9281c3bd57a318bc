"""Prompt-set ingest, Prefect-free: formats, column mapping, references, rejects."""

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from prefsmith.ingest.prompt_sets import check_prompt_source, ingest_prompt_rows
from prefsmith.ingest.sources import iter_file
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store import Store

DATA = Path(__file__).parents[1] / "data"
MT_BENCH = DATA / "mt_bench_questions_18.jsonl"
REFERENCES = DATA / "mt_bench_references.jsonl"


def ingest(store: Store, **settings):
    checked = check_prompt_source(**settings)
    reports = [
        ingest_prompt_rows(
            iter_file(source),
            store,
            plan,
            source_key=str(source.path),
            source_name="set",
            references=checked.references,
        )
        for source, plan in checked.files
    ]
    return reports[0] if len(reports) == 1 else reports


def test_mt_bench_with_references(store_dir):
    store = Store(store_dir)
    report = ingest(store, source=str(MT_BENCH), format="mt-bench", references=str(REFERENCES))
    assert (report.rows_used, report.extra["references_joined"]) == (18, 4)
    prompts = store.scan("prompts").collect()
    assert prompts.height == 18
    by_id = {
        load_json(m)["source_id"]: row
        for m, row in zip(prompts["metadata"], prompts.iter_rows(named=True), strict=True)
    }
    assert by_id[81]["followups"] == [
        "Rewrite your previous response. Start every sentence with the letter A."
    ]
    assert by_id[101]["reference"].startswith("If you have just overtaken the second person")
    assert by_id[81]["reference"] is None
    assert load_json(by_id[101]["metadata"])["category"] == "reasoning"
    again = ingest(Store(store_dir), source=str(MT_BENCH), format="mt-bench")
    assert again.added["prompts"] == 0 and again.duplicates["prompts"] == 18


def test_csv_parquet_and_messages_sources(tmp_path, store_dir, write_jsonl):
    (tmp_path / "p.csv").write_text('id,instruction,lang\n1,"Say hi, please",en\n2,,en\n')
    pq.write_table(pa.Table.from_pylist([{"question": "What is 2+2?"}]), tmp_path / "q.parquet")
    write_jsonl(
        "chat.jsonl",
        [
            {
                "messages": [
                    {"role": "system", "content": "Be brief."},
                    {"role": "user", "content": "Hi"},
                ]
            },
            {
                "messages": [
                    {"role": "user", "content": "Hi"},
                    {"role": "assistant", "content": "Yo"},
                ]
            },
        ],
    )
    store = Store(store_dir)
    csv_report = ingest(store, source=str(tmp_path / "p.csv"))
    assert csv_report.rows_used == 1 and dict(csv_report.rejects_by_reason) == {"missing_prompt": 1}
    assert ingest(store, source=str(tmp_path / "q.parquet")).rows_used == 1
    chat = ingest(store, source=str(tmp_path / "chat.jsonl"))
    assert chat.rows_used == 1 and dict(chat.rejects_by_reason) == {"last_turn_not_user": 1}
    texts = sorted(m[-1]["content"] for m in store.scan("prompts").collect()["messages"].to_list())
    assert texts == ["Hi", "Say hi, please", "What is 2+2?"]


def test_same_id_with_different_content_is_rejected(store_dir, write_jsonl):
    path = write_jsonl(
        "dup.jsonl", [{"id": 1, "prompt": "A"}, {"id": 1, "prompt": "B"}, {"id": 1, "prompt": "A"}]
    )
    report = ingest(Store(store_dir), source=str(path))
    assert report.rows_used == 2 and dict(report.rejects_by_reason) == {"duplicate_id": 1}
    assert Store(store_dir).count("prompts") == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prompt_field": "nope"}, "no column 'nope' for --prompt-field"),
        ({"id_field": "nope"}, "no column 'nope' for --id-field"),
        ({"format": "messages"}, "no 'messages' column; pass --messages-field"),
        ({"references": str(MT_BENCH)}, "no reference answers with an id"),
    ],
)
def test_mapping_mistakes_are_caught_before_writing(settings, message, store_dir):
    with pytest.raises(UserError, match=message):
        ingest(Store(store_dir), source=str(MT_BENCH), **settings)
    assert not store_dir.exists()


def test_a_directory_is_checked_whole_before_anything_is_written(tmp_path, store_dir, write_jsonl):
    write_jsonl("a.jsonl", [{"prompt": "fine"}])
    write_jsonl("b.jsonl", [{"body": "no prompt column here"}])
    with pytest.raises(UserError, match=r"b\.jsonl: no prompt column found"):
        check_prompt_source(source=str(tmp_path))
    assert json.loads((tmp_path / "a.jsonl").read_text())["prompt"] == "fine"
