"""The judge's rubric modes: `rubric` grades each answer 1-5 by one rubric or several aspects
at once, `rubric-pairwise` compares two answers by them in both orders.

    prefsmith label --labeler judge --mode rubric --option rubric=harmlessness
    prefsmith label --labeler judge --mode rubric --option aspects=helpfulness,harmlessness
    prefsmith label --labeler judge --mode rubric-pairwise --option format=prometheus

A label keeps every aspect's value and rationale (`details.aspects`) and its scores per aspect
(`details.aspect_scores`, aligned with the candidates); its `scores` are the aspects' mean.
Builders and reports address one aspect as `LABELER:ASPECT` (`--from judge:harmlessness`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from prefsmith.labelers.base import Item
from prefsmith.labelers.judge_verdicts import SWAP, VERDICT_SCORES, neutralise, order_figures
from prefsmith.labelers.rubric_formats import PARSERS, Parsed, instruction, json_schema
from prefsmith.labelers.rubrics import Rubric, load_rubrics
from prefsmith.schemas import ids
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label

RUBRIC_MODES = ("rubric", "rubric-pairwise")
DEFAULT_RUBRIC = "helpfulness"


class Judge(Protocol):
    """What the rubric modes use of the judge labeler (labelers/judge.py)."""

    options: Any
    rubric: RubricGrading

    def _prompt(self, item: Item, first: str, second: str | None = None) -> list[dict]: ...
    def _both_orders(self, items: list[Item]) -> list[list[dict]]: ...
    def ask(self, prompts: list, sampling: dict, parse: Any) -> list: ...
    def make_label(self, item: Item, scores: Any, details: Any = None, **kw: Any) -> Label: ...


@dataclass(frozen=True)
class RubricGrading:
    """The rubrics of a run, its answer format and whether a schema holds the answer."""

    rubrics: list[Rubric]
    fmt: str
    absolute: bool
    structured: bool

    @property
    def aspects(self) -> list[str]:
        return [rubric.name for rubric in self.rubrics]

    def prompt_fields(self, item: Item, markers: set[str]) -> dict[str, str]:
        reference = (
            f"\n[Reference answer{', which would score 5' if self.absolute else ''}]\n"
            f"{neutralise(item.reference, markers)}\n"
            if item.reference
            else ""
        )
        return {
            "rubric": "\n\n".join(rubric.render(self.absolute) for rubric in self.rubrics),
            "output_format": instruction(self.fmt, self.aspects, self.absolute),
            "reference_section": reference,
        }

    def parse(self, text: str | None) -> Parsed | None:
        return PARSERS[self.fmt](text, self.aspects, self.absolute)

    def sampling(self) -> dict[str, Any]:
        if not self.structured:
            return {}
        schema = json_schema(self.aspects, self.absolute)
        return {"response_format": {"type": "json_object", "schema": schema}}

    def fingerprint(self) -> dict[str, Any]:
        return {
            "format": self.fmt,
            "rubrics": {rubric.name: ids.hash_key(rubric.text) for rubric in self.rubrics},
        }


def rubric_grading(options: Any, server_structured: bool) -> RubricGrading:
    """The run's rubric settings from the judge's options, checked in one line each."""
    specs = options.aspects or [options.rubric or DEFAULT_RUBRIC]
    if options.aspects and options.rubric:
        raise UserError("--option rubric and --option aspects: give one of them")
    fmt = options.format
    if fmt == "auto":
        fmt = "json" if server_structured else "prometheus" if len(specs) == 1 else "ultrafeedback"
    if fmt == "prometheus" and len(specs) > 1:
        raise UserError(
            "format=prometheus grades one rubric per request: use format=ultrafeedback or "
            "json for several aspects"
        )
    rubrics = load_rubrics(specs, absolute=options.mode == "rubric")
    structured = fmt == "json" and server_structured
    return RubricGrading(rubrics, fmt, options.mode == "rubric", structured)


def _ask(judge: Judge, prompts: list[list[dict[str, str]]]) -> list:
    grading = judge.rubric
    sampling = {
        "max_tokens": judge.options.max_tokens,
        "temperature": judge.options.temperature,
        **grading.sampling(),
    }
    return judge.ask(prompts, sampling, grading.parse)


def grade(judge: Judge, items: list[Item]) -> list[Label]:
    """Each candidate 1-5 on every aspect; `scores` is the aspects' mean."""
    answers = _ask(judge, [judge._prompt(item, item.contents[0]) for item in items])
    labels = []
    for item, (parsed, result) in zip(items, answers, strict=True):
        details: dict[str, Any] = {"raw": result.text, "usage": result.usage}
        error = result.error or (None if parsed is not None else "unparseable")
        if error:
            labels.append(judge.make_label(item, None, details, error=error))
            continue
        details["aspects"] = {a: {"score": v, "rationale": r} for a, (v, r) in parsed.items()}
        details["aspect_scores"] = {a: [float(v)] for a, (v, _) in parsed.items()}
        mean = sum(v for v, _ in parsed.values()) / len(parsed)
        labels.append(judge.make_label(item, [mean], details))
    return labels


def compare(judge: Judge, items: list[Item]) -> list[Label]:
    """Both orders per pair and aspect; an aspect whose two verdicts disagree is
    inconsistent (no scores for it), and so is the label if any aspect is."""
    answers = _ask(judge, judge._both_orders(items))
    labels = []
    for index, item in enumerate(items):
        (first, r1), (second, r2) = answers[2 * index], answers[2 * index + 1]
        details: dict[str, Any] = {"raw": [r1.text, r2.text], "usage": [r1.usage, r2.usage]}
        error = r1.error or r2.error
        if not error and (first is None or second is None):
            error = "unparseable"
        if error:
            labels.append(judge.make_label(item, None, details, error=error))
            continue
        orders = {a: [first[a][0], second[a][0]] for a in judge.rubric.aspects}
        # In the second order B is the first candidate: map it back before comparing.
        aspect_scores = {
            a: VERDICT_SCORES[ab] if ab == SWAP[ba] else None for a, (ab, ba) in orders.items()
        }
        details.update(
            orders=orders,
            aspect_scores=aspect_scores,
            aspects={a: {"verdict": orders[a], "rationale": [first[a][1], second[a][1]]}
                     for a in orders},
        )  # fmt: skip
        if any(scores is None for scores in aspect_scores.values()):
            labels.append(judge.make_label(item, None, details, error="inconsistent"))
            continue
        mean = [sum(s[k] for s in aspect_scores.values()) / len(orders) for k in (0, 1)]
        labels.append(judge.make_label(item, mean, details))
    return labels


def rubric_summary(labels: list[Label]) -> dict[str, Any]:
    """Consistency and position figures over every (pair, aspect) judged in both orders."""
    orders = [tuple(o) for label in labels for o in label.details.get("orders", {}).values()]
    return order_figures(orders)
