"""`verify-math`: is the answer's final result equal to the prompt's reference? 1 or 0.

    prefsmith label --labeler verify-math --store S
    prefsmith label --labeler verify-math --option answer_pattern='Result: (.+)' --store S

The final result is found by the usual conventions (labelers/math_answers.py: `\\boxed{}`,
`#### N`, "the answer is N", `A: N`, else the last number; `answer_pattern` replaces them)
and compared with math-verify, which parses LaTeX, fractions, percentages and sets, so
`\\frac{35}{36}` equals `35/36`; short math is parsed whole (`\\frac{1}{2}`, not 2). Details
keep what was extracted, by which rule, and the reference's own final answer. An answer
with no final result scores 0, and so does a hedged one: several numbers ("3 or 4",
"1, 2, 3, 4") found by `####`, "the answer is", `A:` or as the last number, unless the
reference is a set, tuple or interval (details: `ambiguous`). A snippet too costly to
parse (an exponent tower, a huge exponent or factorial: see math_answers.py) scores 0
unparsed (details: `too_complex`): math-verify's timeout works only in the main thread,
and `prefsmith label` runs labelers in worker threads.

The reference is the prompt set's own answer column (`reference`, as MT-Bench writes it;
else `answer` as in GSM8K, `solution` as in MATH), else the reference joined by
`ingest prompts --references`; `reference_field` names another metadata column. A prompt
without one is skipped as `no_reference`, one math-verify cannot parse as
`unparseable_reference`: counts in the run summary, not labels.
"""

from __future__ import annotations

import functools
import re
import threading
from importlib.metadata import version
from typing import Any

from pydantic import Field

from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.labelers.math_answers import (
    MAX_SNIPPET,
    Found,
    find_answer,
    find_reference,
    is_short_math,
    several,
    too_complex,
)
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label

REFERENCE_COLUMNS = ("reference", "answer", "solution")
TIMEOUT_S = 5  # math-verify's own per-parse limit; it works only in the main thread
_DOLLAR = re.compile(r"(?<!\\)\$")  # an unescaped dollar
HEDGEABLE = ("hashes", "answer_is", "a_colon", "last_number")  # rules where "3 or 4" is a hedge


class VerifyMathOptions(LabelerOptions):
    answer_pattern: str | None = Field(
        default=None,
        description="A regex that finds the final answer (its group 1, else the match; the "
        "last match counts), instead of the usual conventions.",
    )
    reference_field: str = Field(
        default="auto",
        description="The prompt metadata column holding the reference (auto: reference, "
        "answer, solution, then the reference joined at ingest).",
    )


class VerifyMathLabeler(Labeler):
    key = "verify-math"
    unit = "candidate"
    kind = "score"
    Options = VerifyMathOptions
    options: VerifyMathOptions

    def __init__(self, options: VerifyMathOptions) -> None:
        super().__init__(options)
        try:
            self.pattern = re.compile(options.answer_pattern) if options.answer_pattern else None
        except re.error as error:
            raise UserError(f"answer_pattern {options.answer_pattern!r}: {error}") from None

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 256

    def fingerprint_parts(self) -> dict[str, Any]:
        return {
            "check": "math",
            "answer_pattern": self.options.answer_pattern,
            "reference_field": self.options.reference_field,
            "conventions": 2,
            "math_verify": _math_verify_version(),
        }

    def reference_text(self, item: Item) -> str | None:
        """The item's reference answer, as text (MT-Bench's list of turns: the first)."""
        field = self.options.reference_field
        names = REFERENCE_COLUMNS if field == "auto" else (field,)
        for name in names:
            value = item.metadata.get(name)
            if isinstance(value, list) and value:
                value = value[0]
            if isinstance(value, int | float) and not isinstance(value, bool):
                value = str(value)
            if isinstance(value, str) and value.strip():
                return value
        if field == "auto" and item.reference and item.reference.strip():
            return item.reference
        return None

    def skip_reason(self, item: Item) -> str | None:
        reference = self.reference_text(item)
        if reference is None:
            return "no_reference"
        return None if _gold(reference)[0] else "unparseable_reference"

    def load(self) -> None:
        _math_verify_version()

    def label_batch(self, items: list[Item]) -> list[Label]:
        return [self.check(item) for item in items]

    def check(self, item: Item) -> Label:
        """One answer's label: score 1 if its final result equals the reference's, else 0."""
        from math_verify import verify

        reference = self.reference_text(item)
        gold, gold_found = _gold(reference) if reference is not None else ((), None)
        if not gold:
            return self.make_label(item, None, error="no_reference: nothing to check against")
        details: dict[str, Any] = {
            "reference": gold_found.text,
            "reference_rule": gold_found.rule,
        }
        found = find_answer(item.contents[0], self.pattern)
        if found is None:
            return self.make_label(item, [0.0], {**details, "extracted": None, "rule": None})
        details.update(extracted=found.text[:MAX_SNIPPET], rule=found.rule, parsed=None)
        if found.rule in HEDGEABLE and several(found.text) and not _is_set(gold):
            return self.make_label(item, [0.0], {**details, "ambiguous": True})
        if too_complex(found.text):
            return self.make_label(item, [0.0], {**details, "too_complex": True})
        answer = _parse(found)
        correct = bool(answer) and verify(gold, answer, timeout_seconds=_timeout())
        details["parsed"] = str(answer[-1]) if answer else None
        return self.make_label(item, [1.0 if correct else 0.0], details)


def _timeout() -> int | None:
    """math-verify's own limit in the main thread; in a worker thread (Prefect's) signals
    can't interrupt, and `too_complex` has refused what could run long."""
    if threading.current_thread() is threading.main_thread():
        return TIMEOUT_S
    import math_verify.grader
    import math_verify.parser

    # It would warn that timeouts are off, once per process, at WARNING: it is on purpose.
    math_verify.parser.TIMEOUT_WARNING_SHOWN = math_verify.grader.TIMEOUT_WARNING_SHOWN = True
    return None


def _parse(found: Found) -> list[Any]:
    """math-verify's reading of a snippet: short math whole (`$…$`), else as it stands."""
    text = found.text
    if too_complex(text):
        return []
    if found.rule == "boxed":
        return _try_parse("\\boxed{" + text + "}")
    if found.rule in ("last_number", "leading_number"):
        text = text.replace("$", "")
    whole = _try_parse("$" + _DOLLAR.sub("", text) + "$") if is_short_math(text) else []
    return whole or _try_parse(text)


def _try_parse(text: str) -> list[Any]:
    from math_verify import parse

    try:
        return parse(text, parsing_timeout=_timeout())
    except Exception:  # a pathological expression is no answer, not a failed run
        return []


def _is_set(gold: list[Any]) -> bool:
    """Whether math-verify read the reference as a set, tuple or interval."""
    from sympy import Set, Tuple

    return any(isinstance(value, Set | Tuple) for value in gold)


@functools.lru_cache(maxsize=65536)
def _gold(reference: str) -> tuple[list[Any], Found | None]:
    """A reference's parsed final answer (empty when none is found or parsed); short math
    math-verify cannot parse falls back to the leading or last number."""
    found = find_reference(reference)
    parsed = _parse(found) if found is not None else []
    if not parsed and found is not None and found.rule == "math":
        found = find_reference(reference, whole=False)
        parsed = _parse(found) if found is not None else []
    return parsed, found


@functools.lru_cache(maxsize=1)
def _math_verify_version() -> str:
    try:
        import math_verify  # noqa: F401
    except ImportError:
        raise UserError("verify-math needs math-verify: pip install 'prefsmith[verify]'") from None
    return version("math-verify")
