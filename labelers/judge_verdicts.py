"""Reading a judge's answers: strict text verdicts and scores, verdict-token probabilities,
and the position figures of a run's pairwise judgments."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from prefsmith.schemas.records import Label

_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_SCORE = re.compile(r"Score:\s*\**\s*([1-5])\b")
SWAP = {"A": "B", "B": "A", "C": "C"}
_BRACKETED = re.compile(r"\[\[?([^\[\]\n]{1,60})\]\]?")
FIXED_MARKERS = {"result", "reference answer", "score rubric", "criteria", "end of conversation"}
VERDICT_SCORES = {"A": [1.0, 0.0], "B": [0.0, 1.0], "C": [0.5, 0.5]}


STRUCTURED = {  # JSON schemas for servers that constrain output to one (llama.cpp, vLLM)
    "verdict": {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": 600},
            "verdict": {"type": "string", "enum": ["A", "B", "C"]},
        },
        "required": ["explanation", "verdict"],
    },
    "score": {
        "type": "object",
        "properties": {
            "explanation": {"type": "string", "maxLength": 600},
            "score": {"type": "integer", "enum": [1, 2, 3, 4, 5]},
        },
        "required": ["explanation", "score"],
    },
}
STRUCTURED_INSTRUCTION = {
    "verdict": '\n\nAnswer in JSON: {"explanation": "<short>", "verdict": "A", "B" or "C"}.',
    "score": '\n\nAnswer in JSON: {"explanation": "<short>", "score": <1 to 5>}.',
}


def template_markers(template: str) -> set[str]:
    """The section markers of a judge template (`[Response A]`, `[[A]]`), lower-cased."""
    found = {m.group(1).strip().lower() for m in _BRACKETED.finditer(template)}
    return found | FIXED_MARKERS


def neutralise(text: str, markers: set[str]) -> str:
    """Text to place inside a judge prompt, with every look-alike of the template's markers
    (and any `[[X]]` verdict) turned into `(...)`: a candidate cannot open a section of its
    own, forge another response or plant a verdict for the judge to echo."""

    def swap(found: re.Match[str]) -> str:
        inner = found.group(1)
        key = inner.strip().lower()
        forged = found.group(0).startswith("[[") or key in markers
        forged = forged or key.startswith(("response", "end of", "reference", "score rubric"))
        return f"({inner})" if forged else found.group(0)

    return _BRACKETED.sub(swap, text)


def _json_answer(text: str | None) -> dict[str, Any] | None:
    """The answer as a JSON object, or None when it is not one."""
    try:
        found = json.loads(text or "")
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def parse_verdict(text: str | None) -> str | None:
    """'A', 'B' or 'C' (tie): a JSON answer's `verdict` field alone (strictly: an invalid one
    is None), else the last [[X]] of the answer's final line, where the verdict belongs; an
    [[X]] anywhere else (an echoed candidate's) never counts."""
    answer = _json_answer(text)
    if answer is not None:
        verdict = answer.get("verdict")
        return verdict if verdict in ("A", "B", "C") else None
    found = _VERDICT.findall(_last_line(text))
    return found[-1] if found else None


def parse_score(text: str | None) -> int | None:
    """The 1-5 score: a JSON answer's `score` field alone, else the `Score: n` of the answer's
    final line; or None."""
    answer = _json_answer(text)
    if answer is not None:
        score = answer.get("score")
        valid = isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5
        return score if valid else None
    found = _SCORE.findall(_last_line(text))
    return int(found[-1]) if found else None


def first_wins_probability(top_logprobs: dict[str, float] | None) -> float | None:
    """P(A) / (P(A) + P(B)) over the first answer token's alternatives (` A`, `a` count as
    A); None when neither verdict token is among them."""
    mass = {"A": 0.0, "B": 0.0}
    for token, logprob in (top_logprobs or {}).items():
        letter = token.strip().upper()
        if letter in mass:
            mass[letter] += math.exp(logprob)
    total = mass["A"] + mass["B"]
    return mass["A"] / total if total > 0 else None


def expected_digit_score(
    top_logprobs: dict[str, float] | None, digits: str = "12345"
) -> tuple[float, dict[str, float], float] | None:
    """G-Eval's score: the expected digit under the digits' renormalised probabilities.

    Returns (score, {digit: probability}, digit mass), the mass being how much of the
    first token's distribution the digits held (` 4` counts as 4); None when no digit
    is among the tokens given."""
    mass = dict.fromkeys(digits, 0.0)
    for token, logprob in (top_logprobs or {}).items():
        digit = token.strip()
        if digit in mass:
            mass[digit] += math.exp(logprob)
    total = sum(mass.values())
    if total <= 0:
        return None
    probabilities = {digit: p / total for digit, p in mass.items()}
    score = sum(int(digit) * p for digit, p in probabilities.items())
    return score, {d: round(p, 6) for d, p in probabilities.items()}, round(total, 6)


def score_summary(labels: list[Label]) -> dict[str, Any]:
    """Mean score and mean digit mass of a run's `single-logprob` grades."""
    graded = [label for label in labels if label.error is None and label.scores]
    if not graded:
        return {}
    return {
        "mean_score": round(sum(label.scores[0] for label in graded) / len(graded), 4),
        "mean_digit_mass": round(
            sum(label.details["digit_mass"] for label in graded) / len(graded), 4
        ),
    }


def order_figures(orders: list[tuple[str, str]]) -> dict[str, Any]:
    """Consistency across the two orders, first-position win rate and tie rate of
    (verdict in order AB, verdict in order BA) pairs."""
    if not orders:
        return {"judged_in_both_orders": 0, "consistency": None}
    verdicts = [verdict for pair in orders for verdict in pair]
    consistent = [ab == SWAP[ba] for ab, ba in orders]
    return {
        "judged_in_both_orders": len(orders),
        "consistency": round(sum(consistent) / len(orders), 4),
        "first_position_win_rate": round(verdicts.count("A") / len(verdicts), 4),
        "tie_rate": round(verdicts.count("C") / len(verdicts), 4),
    }


def pairwise_summary(labels: list[Label]) -> dict[str, Any]:
    """The order figures of a run's pairwise judgments."""
    orders = [(label.details.get("order_ab"), label.details.get("order_ba")) for label in labels]
    return order_figures([(ab, ba) for ab, ba in orders if ab is not None and ba is not None])


def logprob_summary(labels: list[Label]) -> dict[str, Any]:
    """The same figures from verdict probabilities: an order's verdict is its likelier letter."""
    judged = [label for label in labels if label.error is None and "p_a_ab" in label.details]
    if not judged:
        return {}
    first = [p for label in judged for p in (label.details["p_a_ab"], label.details["p_a_ba"])]
    return {
        "consistency": round(sum(label.details["consistent"] for label in judged) / len(judged), 4),
        "first_position_win_rate": round(sum(p > 0.5 for p in first) / len(first), 4),
        "mean_first_position_probability": round(sum(first) / len(first), 4),
    }
