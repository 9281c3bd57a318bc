"""`judge`: an LLM as a judge through any OpenAI-compatible server.

    prefsmith label --labeler judge --mode pairwise --endpoint local
    prefsmith label --labeler judge --mode single --endpoint https://api.openai.com/v1 --model gpt-4o-mini
    prefsmith label --labeler judge --mode reference            # MT-Bench math, reasoning, coding
    prefsmith label --labeler judge --mode logprob --endpoint local
    prefsmith label --labeler judge --mode single-logprob --endpoint transformers:models/dpo
    prefsmith label --labeler judge --mode rubric --option aspects=helpfulness,harmlessness

`pairwise` judges every pair of a prompt's candidates in both orders: the label is
the verdict both orders give, or `inconsistent` (kept as such, never a tie).
`single` is the additive 5-point rubric of the self-rewarding recipe, ending in
`Score: <n>`; `reference` grades one answer against the prompt's reference answer
and `reference-pairwise` compares two with it. `logprob` asks for one token in
both orders and scores a pair by the normalised probability of the verdict
letters (the server must return `top_logprobs`): no text is parsed.
`single-logprob` grades each answer with the additive rubric from one token: the
score is the expected digit under the renormalised probabilities of 1-5 (G-Eval),
for small judges that can't keep a `Score: n` format. `rubric` and `rubric-pairwise` grade
by rubrics from `templates/rubrics/` or a team's own files, one aspect or several per request
(`judge_rubric.py`, formats in `rubric_formats.py`). Output that
can't be parsed is asked again at temperature 0 (`--parse-retries`), then labeled
`unparseable` with the raw text kept. Templates are files; their text is part of
the fingerprint, and every label keeps its token usage.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from prefsmith.endpoints.chat_client import ChatResult
from prefsmith.labelers.base import Item
from prefsmith.labelers.chat_labeler import ChatLabeler, ChatLabelerOptions
from prefsmith.labelers.judge_rubric import (
    RUBRIC_MODES,
    RubricGrading,
    compare,
    grade,
    rubric_grading,
    rubric_summary,
)
from prefsmith.labelers.judge_verdicts import (
    STRUCTURED,
    STRUCTURED_INSTRUCTION,
    SWAP,
    VERDICT_SCORES,
    expected_digit_score,
    first_wins_probability,
    logprob_summary,
    neutralise,
    pairwise_summary,
    parse_score,
    parse_verdict,
    score_summary,
    template_markers,
)
from prefsmith.schemas import ids, locations
from prefsmith.schemas.config import CommaList
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, render_dialogue

__all__ = ["JudgeLabeler", "JudgeOptions", "parse_score", "parse_verdict"]

TEMPLATES = locations.TEMPLATES / "judge"
MODES = {  # mode: (unit, label kind)
    "pairwise": ("pair", "pairwise"),
    "single": ("candidate", "score"),
    "reference": ("candidate", "score"),
    "reference-pairwise": ("pair", "pairwise"),
    "logprob": ("pair", "pairwise"),
    "single-logprob": ("candidate", "score"),
    "rubric": ("candidate", "score"),
    "rubric-pairwise": ("pair", "pairwise"),
}
LOGPROB_MODES = ("logprob", "single-logprob")  # one token, read from its probabilities
TOP_LOGPROBS = 20  # the most OpenAI returns
NO_REFERENCE = "no_reference: the prompt has no reference answer"


class JudgeOptions(ChatLabelerOptions):
    mode: Literal[
        "pairwise",
        "single",
        "reference",
        "reference-pairwise",
        "logprob",
        "single-logprob",
        "rubric",
        "rubric-pairwise",
    ] = Field(default="pairwise", description="How the judge is asked")
    rubric: str | None = Field(
        default=None, description="rubric modes: a bundled rubric's name or a YAML file."
    )
    aspects: CommaList | None = Field(
        default=None, description="rubric modes: several rubrics graded in one request."
    )
    format: Literal["auto", "prometheus", "ultrafeedback", "json"] = Field(
        default="auto",
        description="rubric modes' answer format (auto: json with a schema-holding server, "
        "else prometheus for one rubric, ultrafeedback for several).",
    )


class JudgeLabeler(ChatLabeler):
    key = "judge"
    Options = JudgeOptions
    options: JudgeOptions

    def __init__(self, options: JudgeOptions) -> None:
        super().__init__(options)
        self.unit, self.kind = MODES[options.mode]  # type: ignore[misc]
        name = options.mode.replace("-", "_")
        template = Path(options.template) if options.template else TEMPLATES / f"{name}.txt"
        if not template.is_file():
            raise UserError(f"--template {template}: no such file")
        self.template = template.read_text()
        self.markers = template_markers(self.template)
        self.rubric: RubricGrading | None = None
        if options.mode in RUBRIC_MODES:
            self.rubric = rubric_grading(options, super().structured)
        elif options.rubric or options.aspects:
            raise UserError("--option rubric/aspects need --mode rubric or rubric-pairwise")

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 32

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        one_token = o.mode in LOGPROB_MODES
        return {
            **self.endpoint_fingerprint(),
            "mode": o.mode,
            "template": ids.hash_key(self.template),
            "max_tokens": 1 if one_token else o.max_tokens,
            "temperature": 0.0 if one_token else o.temperature,
            **(self.rubric.fingerprint() if self.rubric else {}),
        }

    @property
    def structured(self) -> bool:
        if self.rubric is not None:
            return self.rubric.structured
        return self.options.mode not in LOGPROB_MODES and super().structured

    def _prompt(self, item: Item, first: str, second: str | None = None) -> list[dict[str, str]]:
        safe = functools.partial(neutralise, markers=self.markers)
        text = self.template.format(
            conversation=safe(render_dialogue(item.messages)),
            response=safe(first),
            response_a=safe(first),
            response_b=safe(second or ""),
            reference=safe(item.reference or ""),
            **(self.rubric.prompt_fields(item, self.markers) if self.rubric else {}),
        )
        return [{"role": "user", "content": text}]

    def _ask(
        self, prompts: list[list[dict[str, str]]], parse: Callable[[str | None], Any]
    ) -> list[tuple[Any, ChatResult]]:
        """Answers with their parsed value; unparseable ones asked again at temperature 0."""
        sampling: dict[str, Any] = {
            "max_tokens": self.options.max_tokens,
            "temperature": self.options.temperature,
        }
        if self.structured:
            answer = "verdict" if parse is parse_verdict else "score"
            sampling["response_format"] = {"type": "json_object", "schema": STRUCTURED[answer]}
            note = STRUCTURED_INSTRUCTION[answer]
            prompts = [[{**p[-1], "content": p[-1]["content"] + note}] for p in prompts]
        return self.ask(prompts, sampling, parse)

    def label_batch(self, items: list[Item]) -> list[Label]:
        needs_reference = self.options.mode.startswith("reference")
        asked = [i for i, item in enumerate(items) if item.reference or not needs_reference]
        labels = {i: self.make_label(items[i], None, error=NO_REFERENCE) for i in range(len(items))}
        judge = {"candidate": self._grade, "pair": self._pairwise}[self.unit]
        if self.options.mode in LOGPROB_MODES:
            judge = self._logprob if self.unit == "pair" else self._score_logprob
        elif self.rubric is not None:
            rubric_judge = compare if self.unit == "pair" else grade
            judge = functools.partial(rubric_judge, self)
        if asked:
            labels.update(zip(asked, judge([items[i] for i in asked]), strict=True))
        return [labels[i] for i in range(len(items))]

    def _grade(self, items: list[Item]) -> list[Label]:
        answers = self._ask([self._prompt(item, item.contents[0]) for item in items], parse_score)
        labels = []
        for item, (score, result) in zip(items, answers, strict=True):
            details = {"raw": result.text, "usage": result.usage}
            error = result.error or (None if score is not None else "unparseable")
            labels.append(
                self.make_label(item, None if error else [float(score)], details, error=error)
            )
        return labels

    def _both_orders(self, items: list[Item]) -> list[list[dict[str, str]]]:
        prompts = []
        for item in items:
            a, b = item.contents
            prompts += [self._prompt(item, a, b), self._prompt(item, b, a)]
        return prompts

    def _pairwise(self, items: list[Item]) -> list[Label]:
        answers = self._ask(self._both_orders(items), parse_verdict)
        labels = []
        for index, item in enumerate(items):
            (first, r1), (second, r2) = answers[2 * index], answers[2 * index + 1]
            details = {
                "order_ab": first,
                "order_ba": second,
                "raw": [r1.text, r2.text],
                "usage": [r1.usage, r2.usage],
            }
            error = r1.error or r2.error
            if not error and (first is None or second is None):
                error = "unparseable"
            # In the second order B is the first candidate: map it back before comparing.
            if not error and first != SWAP[second]:
                error = "inconsistent"
            scores = None if error else VERDICT_SCORES[first]
            labels.append(self.make_label(item, scores, details, error=error))
        return labels

    def _first_tokens(self, prompts: list[list[dict[str, str]]]) -> list[ChatResult]:
        """One answer token per prompt, with its top alternatives' logprobs."""
        sampling = {
            "max_tokens": 1,
            "temperature": 0.0,
            "logprobs": True,
            "top_logprobs": TOP_LOGPROBS,
        }
        results = self.client.chat_many([(p, sampling) for p in prompts])
        if all(r.error is None and r.top_logprobs is None for r in results):
            instead = "pairwise" if self.unit == "pair" else "single"
            raise UserError(
                f"{self.client.base_url} returned no top_logprobs; use --mode {instead} with it"
            )
        return results

    def _score_logprob(self, items: list[Item]) -> list[Label]:
        """The rubric's total as the expected digit 1-5 of the first answer token."""
        results = self._first_tokens([self._prompt(item, item.contents[0]) for item in items])
        labels = []
        for item, result in zip(items, results, strict=True):
            details: dict[str, Any] = {"top_logprobs": result.top_logprobs, "usage": result.usage}
            found = expected_digit_score(result.top_logprobs)
            error = result.error
            if not error and found is None:
                error = "no_score_tokens: no digit 1-5 among the top answer tokens"
            if error:
                labels.append(self.make_label(item, None, details, error=error))
                continue
            score, probabilities, mass = found
            details.update(digit_probabilities=probabilities, digit_mass=mass)
            labels.append(self.make_label(item, [score], details))
        return labels

    def _logprob(self, items: list[Item]) -> list[Label]:
        results = self._first_tokens(self._both_orders(items))
        labels = []
        for index, item in enumerate(items):
            r1, r2 = results[2 * index], results[2 * index + 1]
            p_ab, p_ba = (first_wins_probability(r.top_logprobs) for r in (r1, r2))
            details = {
                "top_logprobs": [r1.top_logprobs, r2.top_logprobs],
                "usage": [r1.usage, r2.usage],
            }
            error = r1.error or r2.error
            if not error and (p_ab is None or p_ba is None):
                error = "no_verdict_tokens: neither A nor B among the top answer tokens"
            if error:
                labels.append(self.make_label(item, None, details, error=error))
                continue
            # P(first candidate better): A in the first order, B in the second.
            p_first = (p_ab + (1.0 - p_ba)) / 2
            details.update(p_a_ab=p_ab, p_a_ba=p_ba, consistent=(p_ab > 0.5) != (p_ba > 0.5))
            labels.append(self.make_label(item, [p_first, 1.0 - p_first], details))
        return labels

    def summary(self, labels: list[Label]) -> dict[str, Any]:
        """Position and consistency figures of this run's pairwise judgments."""
        if self.options.mode == "logprob":
            return logprob_summary(labels)
        if self.options.mode == "single-logprob":
            return score_summary(labels)
        if self.options.mode == "rubric-pairwise":
            return rubric_summary(labels)
        return pairwise_summary(labels) if self.unit == "pair" else {}
