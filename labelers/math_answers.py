"""Finding the final answer in a text, by the conventions answers are written in.

An answer's final result is found by the first convention that matches, in this order:
`\\boxed{…}` (the last one; braces balanced), `#### N` (GSM8K), "the (final) answer is N"
or `Answer: N`, a line `A: N`, and otherwise the last number. A reference answer is read
the same way, except that where no marker is found, a reference that *begins* with a
number followed by a word, a line break or its end ("19 integers (-14, ..., 4)", "0\\n\\n
Very simple. ...") gives that number: references such as MT-Bench's write the answer
first and explain after it. What was found is then parsed by math-verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = r"-?\$?\d[\d,]*(?:\.\d+)?(?:\s*/\s*\d+)?\s*%?"
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(  # up to the end of its sentence or line
    r"(?:final\s+answer|answer)\s*(?:is|:|=)\s*(?:[:=]\s*)?([^\n]+?)(?=\.\s|\.?\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_A_COLON = re.compile(r"^\s*A\s*:\s*([^\n]+)$", re.MULTILINE)
_LAST_NUMBER = re.compile(NUMBER)
_LEADING_NUMBER = re.compile(rf"^\s*({NUMBER})(?=\s*(?:[A-Za-z\n]|$))")
MAX_SNIPPET = 300  # characters of an extracted answer given to the parser

RULES = ("pattern", "boxed", "hashes", "answer_is", "a_colon", "leading_number", "last_number")


@dataclass(frozen=True, slots=True)
class Found:
    """The text of a final answer, and the convention that found it."""

    text: str
    rule: str


def boxed(text: str) -> str | None:
    """The content of the last `\\boxed{…}` (nested braces kept), None if there is none."""
    starts = [m.end() for m in _BOXED.finditer(text)]
    if not starts:
        return None
    depth, start = 1, starts[-1]
    for i in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return text[start:i]
    return None  # unclosed: no answer by this convention


def find_answer(text: str, pattern: re.Pattern[str] | None = None) -> Found | None:
    """The final answer of a model's answer, or None when no convention finds one."""
    if pattern is not None:
        matches = list(pattern.finditer(text))
        if not matches:
            return None
        last = matches[-1]
        return Found(last.group(1) if last.groups() else last.group(0), "pattern")
    return _marked(text) or _last_number(text)


def find_reference(text: str) -> Found | None:
    """The final answer of a reference answer (see the module docstring)."""
    found = _marked(text)
    if found is not None:
        return found
    leading = _LEADING_NUMBER.match(text)
    if leading is not None:
        return Found(leading.group(1).strip(), "leading_number")
    return _last_number(text)


def _marked(text: str) -> Found | None:
    content = boxed(text)
    if content is not None:
        return Found(content, "boxed")
    for rule, regex in (("hashes", _HASHES), ("answer_is", _ANSWER_IS), ("a_colon", _A_COLON)):
        matches = regex.findall(text)
        if matches:
            return Found(matches[-1].strip(), rule)
    return None


def _last_number(text: str) -> Found | None:
    numbers = _LAST_NUMBER.findall(text)
    return Found(numbers[-1].strip(), "last_number") if numbers else None
