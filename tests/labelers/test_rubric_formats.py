"""The rubric answer formats, pinned by hand-written answers in each published layout and the
ways models deviate from it (tests/data/judge_answers/*.yaml): every answer parses or is
rejected exactly as its expectation says."""

from pathlib import Path

import pytest
import yaml

from prefsmith.labelers.rubric_formats import (
    PARSERS,
    instruction,
    json_schema,
    parse_json,
    parse_prometheus,
)

ANSWERS = Path(__file__).parents[1] / "data" / "judge_answers"
CASES = [
    (fmt, index, case)
    for fmt in PARSERS
    for index, case in enumerate(yaml.safe_load((ANSWERS / f"{fmt}.yaml").read_text()))
]


@pytest.mark.parametrize(("fmt", "index", "case"), CASES, ids=[f"{f}-{i}" for f, i, _ in CASES])
def test_each_recorded_answer_parses_or_is_rejected_as_expected(fmt, index, case):
    aspects = case.get("aspects", ["helpfulness"])
    parsed = PARSERS[fmt](case["text"], aspects, case["grading"] == "absolute")
    expect = case["expect"]
    if expect is not None and not isinstance(expect, dict):
        expect = {aspects[0]: expect}
    got = None if parsed is None else {aspect: value for aspect, (value, _) in parsed.items()}
    assert got == expect


def test_there_are_dozens_of_answers_per_format_and_every_well_formed_one_parses():
    for fmt in PARSERS:
        cases = [case for f, _, case in CASES if f == fmt]
        well_formed = [case for case in cases if case["expect"] is not None]
        assert len(cases) >= 25 and len(well_formed) >= 10, fmt
        parsed = [
            PARSERS[fmt](c["text"], c.get("aspects", ["helpfulness"]), c["grading"] == "absolute")
            for c in well_formed
        ]
        assert sum(p is not None for p in parsed) / len(parsed) >= 0.99, fmt


def test_the_rationale_is_kept_beside_the_value():
    parsed = parse_prometheus("Feedback: Clear and correct. [RESULT] 5", ["helpfulness"], True)
    assert parsed == {"helpfulness": (5, "Clear and correct.")}
    two = parse_json(
        '{"a": {"rationale": "x", "score": 2}, "b": {"rationale": "y", "score": 4}}',
        ["a", "b"],
        True,
    )
    assert two == {"a": (2, "x"), "b": (4, "y")}


def test_the_instruction_names_the_format_its_parser_reads():
    assert "[RESULT] <an integer from 1 to 5>" in instruction("prometheus", ["h"], True)
    assert "[RESULT] <A or B>" in instruction("prometheus", ["h"], False)
    text = instruction("ultrafeedback", ["helpfulness", "harmlessness"], False)
    assert "(helpfulness, harmlessness)" in text and "Rating A:" in text
    schema = json_schema(["helpfulness", "harmlessness"], True)
    assert schema["required"] == ["helpfulness", "harmlessness"]
    assert schema["properties"]["helpfulness"]["properties"]["score"]["enum"] == [1, 2, 3, 4, 5]
