import json
from pathlib import Path

import pytest

from prefsmith.ingest.hh_rows import REJECT_REASONS, HHRowError, parse_pair, split_dialogue

HH_SLICE = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


def dialogue(*turns: str) -> str:
    return "".join(
        f"\n\n{'Human' if i % 2 == 0 else 'Assistant'}: {t}" for i, t in enumerate(turns)
    )


def test_multi_turn_prompt_is_kept_whole():
    pair = parse_pair(
        {
            "chosen": dialogue(
                "Hi", "Hello, how can I help?", "Tell me a joke", "Why did the chicken..."
            ),
            "rejected": dialogue("Hi", "Hello, how can I help?", "Tell me a joke", "No."),
        }
    )
    assert pair.messages == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello, how can I help?"},
        {"role": "user", "content": "Tell me a joke"},
    ]
    assert (pair.chosen, pair.rejected) == ("Why did the chicken...", "No.")


def test_real_slice_parses_except_the_known_empty_answer():
    rows = [json.loads(line) for line in HH_SLICE.read_text().splitlines()]
    reasons = []
    for row in rows:
        try:
            pair = parse_pair(row)
        except HHRowError as error:
            reasons.append(error.reason)
            continue
        assert pair.messages[0]["role"] == "user" and pair.messages[-1]["role"] == "user"
        assert row["chosen"].endswith(pair.chosen) and row["rejected"].endswith(pair.rejected)
        roles = [m["role"] for m in pair.messages]
        assert roles.count("user") == row["chosen"].count("\n\nHuman:")
    assert reasons == ["empty_answer"]  # row 87 of the real file: chosen answer is " "


def test_markers_inside_text_without_the_blank_line_are_content():
    text = "\n\nHuman: Write 'Human: hi' please\n\nAssistant: Human: hi"
    assert split_dialogue(text) == [
        {"role": "user", "content": "Write 'Human: hi' please"},
        {"role": "assistant", "content": "Human: hi"},
    ]


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        ({"chosen": dialogue("Hi", "A")}, "missing_keys"),
        ({"chosen": dialogue("Hi", "A"), "rejected": 3}, "missing_keys"),
        ({"chosen": dialogue("Hi", "A"), "rejected": dialogue("Bye", "B")}, "prompt_mismatch"),
        ({"chosen": dialogue("Hi"), "rejected": dialogue("Hi", "B")}, "no_final_assistant_turn"),
        (
            {"chosen": dialogue("Hi", "A", "Q"), "rejected": dialogue("Hi", "B")},
            "no_final_assistant_turn",
        ),
        ({"chosen": dialogue("Hi", " "), "rejected": dialogue("Hi", "B")}, "empty_answer"),
        ({"chosen": dialogue("Hi", "B"), "rejected": dialogue("Hi", "")}, "empty_answer"),
        (
            {"chosen": dialogue("Hi", "Same"), "rejected": dialogue("Hi", "Same ")},
            "identical_answers",
        ),
        (
            {
                "chosen": "preamble" + dialogue("Hi", "A"),
                "rejected": "preamble" + dialogue("Hi", "B"),
            },
            "malformed_dialogue",
        ),
        ({"chosen": "\n\nAssistant: A", "rejected": "\n\nAssistant: B"}, "malformed_dialogue"),
        (["not", "an", "object"], "invalid_json"),
    ],
)
def test_reject_reasons(record, reason):
    assert reason in REJECT_REASONS
    with pytest.raises(HHRowError) as caught:
        parse_pair(record)
    assert caught.value.reason == reason


def test_allow_empty_keeps_an_empty_answer():
    pair = parse_pair(
        {"chosen": dialogue("Hi", "B"), "rejected": dialogue("Hi", " ")}, allow_empty=True
    )
    assert pair.rejected == ""


def test_whitespace_only_prompt_difference_is_not_a_mismatch():
    chosen = "\n\nHuman: Hi \n\nAssistant: A"
    rejected = "\n\nHuman: Hi\n\nAssistant: B"
    assert parse_pair({"chosen": chosen, "rejected": rejected}).messages == [
        {"role": "user", "content": "Hi"}
    ]
