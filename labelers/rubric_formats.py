"""The answer formats of rubric grading, each an instruction and its strict parser together.

`prometheus` (one rubric per request, Prometheus 2's layout):

    Feedback: <feedback> [RESULT] 4          (absolute: an integer 1-5)
    Feedback: <feedback> [RESULT] B          (relative: A or B)

`ultrafeedback` (several aspects in one request, UltraFeedback's `Rating:`/`Rationale:` blocks;
with one aspect its `### NAME` header may be left out):

    ### helpfulness                         ### helpfulness
    Rating: 4                                Rating A: 4
    Rationale: <one or two sentences>        Rating B: 2
                                             Rationale: <...>

`json`: `{"helpfulness": {"rationale": "...", "score": 4}, ...}` (relative: `"verdict": "A"`,
`"B"` or `"C"` for a tie); under `--structured` the server is held to its schema.

A parser returns `{aspect: (value, rationale)}` for an answer in exactly its format, else None:
nothing is guessed (no score taken from inside a rationale, no second `[RESULT]`, no value out
of range), and what does not parse is asked again, then stored as `unparseable`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

FORMATS = ("prometheus", "ultrafeedback", "json")
Parsed = dict[str, tuple[Any, str]]

_HEADER = re.compile(r"^###[ \t]+(\S.*?)[ \t]*$", re.MULTILINE)
_RATING = re.compile(r"^Rating( [AB])?:[ \t]*(\S.*?)[ \t]*$")


def instruction(fmt: str, aspects: list[str], absolute: bool) -> str:
    """What the judge is told to write, ending the prompt."""
    value = "an integer from 1 to 5" if absolute else "A or B"
    if fmt == "prometheus":
        return (
            "Write feedback that assesses the response strictly by the rubric, then the "
            f"{'score' if absolute else 'better response'}. Answer exactly as:\n"
            f"Feedback: <your feedback> [RESULT] <{value}>\n"
            "Write nothing after the result."
        )
    if fmt == "ultrafeedback":
        rating = (
            "Rating: <an integer from 1 to 5>"
            if absolute
            else "Rating A: <1 to 5 for response A>\nRating B: <1 to 5 for response B>"
        )
        return (
            f"For each aspect, in this order ({', '.join(aspects)}), write exactly:\n"
            f"### <aspect>\n{rating}\nRationale: <one or two sentences>"
        )
    field = '"score": <1 to 5>' if absolute else '"verdict": "A", "B" or "C" (a tie)'
    example = ", ".join(f'"{a}": {{"rationale": "<short>", {field}}}' for a in aspects)
    return f"Answer in JSON: {{{example}}}"


def json_schema(aspects: list[str], absolute: bool) -> dict[str, Any]:
    """The schema a structured server holds a `json` answer to."""
    value = (
        {"type": "integer", "enum": [1, 2, 3, 4, 5]}
        if absolute
        else {"type": "string", "enum": ["A", "B", "C"]}
    )
    key = "score" if absolute else "verdict"
    one = {
        "type": "object",
        "properties": {"rationale": {"type": "string", "maxLength": 600}, key: value},
        "required": ["rationale", key],
    }
    return {
        "type": "object",
        "properties": dict.fromkeys(aspects, one),
        "required": list(aspects),
    }


def _score(text: str) -> int | None:
    return int(text) if re.fullmatch(r"[1-5]", text) else None


def parse_prometheus(text: str | None, aspects: list[str], absolute: bool) -> Parsed | None:
    if text is None or len(aspects) != 1 or text.count("[RESULT]") != 1:
        return None
    feedback, _, result = text.strip().partition("[RESULT]")
    if not feedback.startswith("Feedback:"):
        return None
    result = result.strip()
    value: Any = _score(result) if absolute else (result if result in ("A", "B") else None)
    if value is None:
        return None
    return {aspects[0]: (value, feedback.removeprefix("Feedback:").strip())}


def _block(body: str, absolute: bool) -> tuple[Any, str] | None:
    """One aspect's `Rating` line(s) then `Rationale:`; any other `Rating` line rejects it."""
    lines = [line.rstrip() for line in body.strip().splitlines()]
    wanted = [None] if absolute else [" A", " B"]
    if len(lines) < len(wanted) + 1:
        return None
    ratings = []
    for line, label in zip(lines, wanted, strict=False):
        found = _RATING.match(line)
        if not found or found.group(1) != label or _score(found.group(2)) is None:
            return None
        ratings.append(_score(found.group(2)))
    rest = lines[len(wanted) :]
    if not rest[0].startswith("Rationale:") or any(_RATING.match(line) for line in rest):
        return None
    rationale = "\n".join(rest).removeprefix("Rationale:").strip()
    if absolute:
        return ratings[0], rationale
    a, b = ratings
    return ("A" if a > b else "B" if b > a else "C"), rationale


def parse_ultrafeedback(text: str | None, aspects: list[str], absolute: bool) -> Parsed | None:
    if text is None:
        return None
    parts = _HEADER.split(text.strip())
    if len(parts) == 1 and len(aspects) == 1:  # one aspect, header left out
        parts = ["", aspects[0], parts[0]]
    if parts[0].strip() or len(parts) != 2 * len(aspects) + 1:
        return None
    found: Parsed = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        block = _block(body, absolute)
        if name not in aspects or name in found or block is None:
            return None
        found[name] = block
    return found


def parse_json(text: str | None, aspects: list[str], absolute: bool) -> Parsed | None:
    try:
        answer = json.loads(text or "")
    except ValueError:
        return None
    if not isinstance(answer, dict) or set(answer) != set(aspects):
        return None
    key = "score" if absolute else "verdict"
    found: Parsed = {}
    for name in aspects:
        entry = answer[name]
        if not isinstance(entry, dict) or set(entry) != {"rationale", key}:
            return None
        value, rationale = entry[key], entry["rationale"]
        valid = type(value) is int and 1 <= value <= 5 if absolute else value in ("A", "B", "C")
        if not valid or not isinstance(rationale, str):
            return None
        found[name] = (value, rationale)
    return found


PARSERS: dict[str, Callable[[str | None, list[str], bool], Parsed | None]] = {
    "prometheus": parse_prometheus,
    "ultrafeedback": parse_ultrafeedback,
    "json": parse_json,
}
