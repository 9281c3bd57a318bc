"""The column-wise hh-rlhf parser stores exactly what the per-row parser stores."""

import json
from datetime import datetime, timezone

import pytest

from prefsmith.ingest import hh_columns
from prefsmith.ingest.hh_columns import convert_hh_block
from prefsmith.ingest.hh_tables import convert_hh_rows
from prefsmith.ingest.jsonl import parse_jsonl_line
from tests.conftest import HH_SLICE

WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def dialogue(*turns: str) -> str:
    return "".join(
        f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {text}" for i, text in enumerate(turns)
    )


def pair(prompt: list[str], chosen: str, rejected: str) -> dict:
    return {"chosen": dialogue(*prompt, chosen), "rejected": dialogue(*prompt, rejected)}


# Rows polars reads fine, each either the common case or one the per-row parser must judge.
REJECTED_OR_ODD = [
    pair(["Hi"], " ", "B"),  # empty answer
    pair(["Hi"], "Same", "Same "),  # identical answers
    {"chosen": dialogue("Hi"), "rejected": dialogue("Hi", "B")},  # no final assistant turn
    {"chosen": dialogue("Hi", "A", "Q"), "rejected": dialogue("Hi", "B")},
    pair(["Bye"], "A", "B") | {"rejected": dialogue("Other", "B")},  # prompt mismatch
    {"chosen": "pre" + dialogue("Hi", "A"), "rejected": "pre" + dialogue("Hi", "B")},
    {"chosen": "\n\nAssistant: A", "rejected": "\n\nAssistant: B"},  # malformed
    {"chosen": dialogue("Hi", "A")},  # missing key
    {"chosen": dialogue("Hi", "A"), "rejected": 3},
    # a prompt ending with an assistant turn
    {
        "chosen": dialogue("Hi", "x") + "\n\nAssistant: A",
        "rejected": dialogue("Hi", "x") + "\n\nAssistant: B",
    },
    pair(["Héllo"], "A", "B") | {"rejected": dialogue("Hèllo", "B")},  # one character off
    {"chosen": dialogue("Hi", "A"), "rejected": dialogue("Hi") + "\n\nAssistant:"},
    {"chosen": dialogue("Hi", "A"), "rejected": dialogue("Hi")},  # shorter than the prompt
    {"chosen": dialogue("Hi", "A"), "rejected": dialogue("Hi", "B", "Again?", "C")},
    {"chosen": dialogue("Hi", "A"), "rejected": dialogue("Hi", "B", "Again?")},
    {"chosen": dialogue("Hi", "A"), "rejected": dialogue("Hi", "B") + "\n\nAssistant: C"},
]
COMMON = [
    pair(["Hi"], "A", "B"),
    pair(["Hi"], "C", "D"),  # the same prompt again: one prompt row
    pair(["Héllo wörld \u3000", "Ça va?", "Über\xa0alles"], " Oui \u2003", "Non"),
    pair(["Is 'Human:' a marker?\nHuman: no, not without a blank line"], "Right.", "Wrong."),
    pair(["Long", "multi", "turn", "talk", "here"], "x" * 300, "y"),
    pair(["An emoji 😀 (a surrogate pair when escaped)"], "🙂", "🙁"),
]


def lines_of(records: list) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def both(data: bytes, first_line: int = 1):
    kwargs = {"source_key": "k", "source_name": "hh", "allow_empty": False, "created_at": WHEN}
    rows = (
        row
        for number, line in enumerate(data.removesuffix(b"\n").split(b"\n"), first_line)
        if (row := parse_jsonl_line(number, line)) is not None
    )
    return convert_hh_block(data, first_line, **kwargs), convert_hh_rows(rows, **kwargs)


def assert_same(columns, per_row):
    assert (columns.rows_read, columns.rows_used) == (per_row.rows_read, per_row.rows_used)
    assert columns.rejects_by_reason == per_row.rejects_by_reason
    assert columns.tables.keys() == per_row.tables.keys()
    for name, table in per_row.tables.items():
        assert columns.tables[name].equals(table), name


@pytest.fixture
def per_row_calls(monkeypatch):
    """How many rows the column-wise path handed to the per-row parser."""
    seen = []

    def counting(rows, **kwargs):
        rows = list(rows)
        seen.append(len(rows))
        return convert_hh_rows(rows, **kwargs)

    monkeypatch.setattr(hh_columns, "convert_hh_rows", counting)
    return seen


def test_common_rows_in_polars_and_rejects_per_row_store_the_same(per_row_calls):
    records = [r for i, odd in enumerate(REJECTED_OR_ODD) for r in (COMMON[i % 5], odd)]
    columns, per_row = both(lines_of([*records, *COMMON]), first_line=7)
    assert per_row_calls == [len(REJECTED_OR_ODD)]  # only the odd rows went per row
    assert per_row.rows_used == len(REJECTED_OR_ODD) + len(COMMON)  # the common rows
    assert sum(per_row.rejects_by_reason.values()) == len(REJECTED_OR_ODD)  # each odd row
    assert_same(columns, per_row)


def test_a_usable_row_off_the_common_case_sends_its_block_per_row(per_row_calls):
    opening = "\n\nAssistant: Hello"  # the per-row parser keeps an opening assistant turn
    usable = {"chosen": opening + dialogue("Hi", "A"), "rejected": opening + dialogue("Hi", "B")}
    columns, per_row = both(lines_of([*COMMON, usable]))
    assert per_row_calls == [1, len(COMMON) + 1]
    assert per_row.rows_used == len(COMMON) + 1
    assert_same(columns, per_row)


def test_the_real_slice_is_parsed_column_wise(per_row_calls):
    columns, per_row = both(HH_SLICE.read_bytes())
    assert per_row_calls == [1]  # the one empty answer of the slice
    assert_same(columns, per_row)


@pytest.mark.parametrize(
    "odd",
    [
        # usable only per row (whitespace-only prompt difference): the block goes per row
        {"chosen": "\n\nHuman: Hi \n\nAssistant: A", "rejected": "\n\nHuman: Hi\n\nAssistant: B"},
        "{not json",
        "",  # a blank line would shift the line numbers
        '{"chosen": "\\u001fHi", "rejected": "x"}',  # Python strips \x1f, Rust doesn't
        '{"chosen": "\\n\\nHuman: Hi\\ud83d\\n\\nAssistant: A", "rejected": "b"}',  # lone
        # a key twice: polars keeps the first (a good pair), orjson the last (a reject)
        '{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: A", "chosen": "a", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: B"}',
        '{"chosen": "\\n\\nHuman: Hi\\n\\nAssistant: A", "\\u0063hosen": "a", "rejected": "\\n\\nHuman: Hi\\n\\nAssistant: B"}',
    ],
)
def test_blocks_the_columns_could_read_differently_go_per_row(odd):
    data = lines_of([*COMMON[:2], {"chosen": dialogue("Hi", "A")}, *COMMON[2:]])  # a key missing
    data += (odd if isinstance(odd, str) else json.dumps(odd)).encode() + b"\n"
    data += lines_of(COMMON[:2])
    assert_same(*both(data))
