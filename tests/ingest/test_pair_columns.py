"""The column-wise reader of pairs stores exactly what the per-row reader (the
specification) stores, on the public layouts and on files with rows it must hand over."""

from pathlib import Path

import pytest

from prefsmith.ingest import pair_columns
from prefsmith.ingest.judged_sources import check_pairs
from prefsmith.ingest.pair_columns import ingest_pair_blocks, reads_column_wise
from prefsmith.ingest.pairs import PairIngest, PairRules, ingest_pair_rows
from prefsmith.ingest.sources import iter_file
from prefsmith.store import Store

WORLD = Path(__file__).parents[1] / "data" / "world"


def contents(store: Store) -> dict:
    tables = {}
    for name in ("prompts", "candidates", "labels", "rejects"):
        if store.parts(name):
            frame = store.scan(name).collect().drop("created_at")
            tables[name] = sorted(map(str, frame.to_dicts()))
    return tables


def both_ways(tmp_path: Path, path: Path, **settings) -> tuple[dict, dict, dict, dict]:
    checked = check_pairs(source=str(path), labeler="gold", **settings)
    (source, layout), = checked.files  # fmt: skip
    assert reads_column_wise(layout, source)
    rules = PairRules(layout, "gold", checked.fingerprint, "set", checked.config.conflicts)
    fast_store, slow_store = Store(tmp_path / "fast"), Store(tmp_path / "slow")
    ingest = PairIngest(fast_store, rules, "key")
    ingest_pair_blocks(ingest, layout, source)
    fast = ingest.finish().to_dict()
    slow = ingest_pair_rows(iter_file(source), slow_store, rules, source_key="key").to_dict()
    return fast, slow, contents(fast_store), contents(slow_store)


@pytest.mark.parametrize(
    ("name", "settings"),
    [
        ("llmbar.jsonl", {"subset_field": "subset"}),
        ("judgebench.jsonl", {"subset_field": "source"}),
        ("rewardbench.jsonl", {}),
        ("helpsteer2_preference.jsonl", {}),
        ("pku_saferlhf.jsonl", {}),
    ],
)
def test_public_layouts_store_the_same_rows(tmp_path, monkeypatch, name, settings):
    taken = []
    real = pair_columns._hold_block
    monkeypatch.setattr(pair_columns, "_hold_block", lambda *a: taken.append(1) or real(*a))
    fast, slow, fast_rows, slow_rows = both_ways(tmp_path, WORLD / name, **settings)
    assert taken, "the column-wise path was not taken"
    assert fast_rows == slow_rows
    for key in ("rows_read", "rows_used", "rejects_by_reason", "added"):
        assert fast[key] == slow[key], key


def test_duplicates_conflicts_and_odd_rows_across_blocks(tmp_path, monkeypatch, write_jsonl):
    monkeypatch.setattr(pair_columns, "BLOCK_BYTES", 200)  # many blocks
    rows = []
    for i in range(30):
        rows.append({"prompt": f"Q{i % 7}", "chosen": f"good {i % 11}", "rejected": f"bad {i % 5}",
                     "subset": f"s{i % 3}", "strength": (i % 4) - 1.5})  # fmt: skip
    rows.append({"prompt": "Q1", "chosen": "bad 1", "rejected": "good 1", "subset": "s0",
                 "strength": 1})  # fmt: skip
    rows.insert(12, {"prompt": "Q9", "chosen": " ", "rejected": "x", "subset": "s", "strength": 1})
    rows.insert(20, {"prompt": "Human: hi\n\nAssistant:", "chosen": "a", "rejected": "b",
                     "subset": "s", "strength": 2})  # fmt: skip
    rows.insert(25, {"prompt": "Q\u00e9", "chosen": "caf\u00e9", "rejected": "tea", "subset": "\u00e9",
                     "strength": 0.25})  # fmt: skip
    rows += [dict(rows[3]), dict(rows[27])]  # the same judgment again, in a later block
    path = write_jsonl("mixed.jsonl", rows)
    taken = []
    real = pair_columns._hold_block
    monkeypatch.setattr(pair_columns, "_hold_block", lambda *a: taken.append(1) or real(*a))
    for conflicts in ("reject", "tie"):
        fast, slow, fast_rows, slow_rows = both_ways(
            tmp_path / conflicts, path, subset_field="subset", strength_field="strength",
            conflicts=conflicts,
        )  # fmt: skip
        assert fast_rows == slow_rows
        assert fast["rejects_by_reason"] == slow["rejects_by_reason"]
        assert {"duplicate_pair", "empty_answer", "conflicting_verdict"} <= set(
            slow["rejects_by_reason"]
        )
    assert taken
