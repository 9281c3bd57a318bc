"""Finding the final answer in a text, by the conventions answers are written in.

An answer's final result is found by the first convention that matches, in this order:
`\\boxed{…}` (the last one; braces balanced), `#### N` (GSM8K), "the (final) answer is N"
or `Answer: N` (what follows must begin like math: a digit, sign, `$`, `\\`, a bracket or
`x =`), a line `A: N`, and otherwise the last number (with the numbers listed just before
it: "3 or 4", "1, 2, 3"). A reference answer is read the same way, except that where no
marker is found, a reference that is short math ("\\frac{14}{3}", "\\{-3, 3\\}", "p - q":
one line of at most 60 characters, no words but `or`, `and` and function names) is read
whole, or its right side if it is an equation (`f(2) = 0`: 0); else a reference that
*begins* with a number followed by a word, a line break or its end ("19 integers (-14,
..., 4)", "0\\n\\nVery simple. ...") gives that number: MT-Bench writes the answer first
and explains after it. The Unicode minus (and an en dash before a digit) reads as `-`.
`several` tells a hedged snippet ("3 or 4", "1, 2, 3"; `12,000` and `1.5` are one number),
`too_complex` one too costly to parse (a tower of exponents, an exponent over 10,000, a
factorial over 100, more than MAX_SNIPPET characters). What was found is then parsed by
math-verify.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUMBER = r"-?\$?(?>\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?(?:\s*/\s*\d+)?\s*%?"
_SEP = r"\s*(?:,\s*(?:(?:or|and)\b\s*)?|\b(?:or|and)\b\s*)"
_ITEM = rf"(?<![\d.])(?:[A-Za-z]\s*=\s*)?(?:{NUMBER}|\\[dt]?frac\{{[^{{}}]*\}}\{{[^{{}}]*\}})"
_SEVERAL = re.compile(rf"{_ITEM}{_SEP}{_ITEM}")
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASHES = re.compile(r"####\s*([^\n]+)")
_ANSWER_IS = re.compile(  # up to the end of its sentence or line; must begin like math
    r"(?:final\s+answer|answer)\s*(?:is|:|=)\s*(?:[:=]\s*)?\**\s*"
    r"((?:[-+$\\({\[\d]|\.\d|[A-Za-z]\s*=)[^\n]*?)\**(?=\.\s|\.?\s*$)",
    re.IGNORECASE | re.MULTILINE,
)
_A_COLON = re.compile(r"^\s*A\s*:\s*([^\n]+)$", re.MULTILINE)
_LAST_NUMBER = re.compile(rf"{NUMBER}(?:{_SEP}{NUMBER})*")
_LEADING_NUMBER = re.compile(rf"^\s*({NUMBER})(?=\s*(?:[A-Za-z\n]|$))")
_MINUS = re.compile(r"\u2212|(?<![\w)\]}])\u2013(?=\d)")
_RHS = re.compile(r"(?<![<>!=\\])=(?!=)")
_COMMAND = re.compile(r"\\[A-Za-z]+")
_WORD = re.compile(r"[A-Za-z]{3,}|(?<![\w^\\])[A-Za-z]{2}(?![A-Za-z])")
MATH_WORDS = re.compile(  # words short math may hold
    r"or|and|pi|ln|log|exp|sqrt|a?(?:sin|cos|tan)h?|arc(?:sin|cos|tan)|cot|sec|csc|mod|gcd|lcm"
    r"|max|min|inf|lim|det",
    re.IGNORECASE,
)
MAX_SNIPPET = 300  # characters of an extracted answer given to the parser
SHORT_MATH = 60  # a reference up to this long, without prose, is read whole
MAX_EXPONENT, MAX_FACTORIAL = 10_000, 100

RULES = (
    "pattern",
    "boxed",
    "hashes",
    "answer_is",
    "a_colon",
    "math",
    "leading_number",
    "last_number",
)


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
    text = _MINUS.sub("-", text)
    if pattern is not None:
        matches = list(pattern.finditer(text))
        if not matches:
            return None
        last = matches[-1]
        return Found(last.group(1) if last.groups() else last.group(0), "pattern")
    return _marked(text) or _last_number(text)


def find_reference(text: str, whole: bool = True) -> Found | None:
    """The final answer of a reference answer (see the module docstring); `whole=False`
    skips reading short math whole (for when math-verify cannot parse it)."""
    text = _MINUS.sub("-", text)
    found = _marked(text)
    if found is not None:
        return found
    if whole and is_short_math(text):
        return Found(_RHS.split(text)[-1].strip(), "math")
    leading = _LEADING_NUMBER.match(text)
    if leading is not None:
        return Found(leading.group(1).strip(), "leading_number")
    return _last_number(text)


def is_short_math(text: str) -> bool:
    """Whether a text is one short line with no words but math's (LaTeX commands aside)."""
    text = text.strip()
    words = _WORD.findall(_COMMAND.sub(" ", text))
    short = 0 < len(text) <= SHORT_MATH and "\n" not in text
    return short and all(MATH_WORDS.fullmatch(w) for w in words)


def several(text: str) -> bool:
    """Whether a snippet lists several numbers joined by "or", "and" or commas."""
    return _SEVERAL.search(text.replace("$", "")) is not None


def too_complex(text: str) -> bool:
    """Whether a snippet could hold the parser too long (see the module docstring)."""
    if len(text) > MAX_SNIPPET:
        return True
    text = text.replace("**", "^")
    for caret in re.finditer(r"\^", text):
        exponent, end = _exponent(text, caret.end())
        if "^" in exponent or text[end:].lstrip().startswith("^"):
            return True
        if re.fullmatch(r"\s*[-+]?\s*\d+\s*", exponent) and abs(int(exponent)) > MAX_EXPONENT:
            return True
    return any(int(n) > MAX_FACTORIAL for n in re.findall(r"(\d+)\s*!", text))


def _exponent(text: str, i: int) -> tuple[str, int]:
    """The exponent that starts at `text[i]` (a bracketed group or one token), and its end."""
    while i < len(text) and text[i].isspace():
        i += 1
    if i < len(text) and text[i] in "{(":
        depth = 0
        for j in range(i, len(text)):
            depth += {"{": 1, "(": 1, "}": -1, ")": -1}.get(text[j], 0)
            if depth == 0:
                return text[i + 1 : j], j + 1
        return text[i + 1 :], len(text)
    token = re.match(r"\d+|\\[A-Za-z]+|.", text[i:])
    return (token.group(0), i + token.end()) if token else ("", i)


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
