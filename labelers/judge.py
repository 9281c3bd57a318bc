"""`judge`: an LLM as a judge through any OpenAI-compatible server.

    prefsmith label --labeler judge --mode pairwise --endpoint local
    prefsmith label --labeler judge --mode single --endpoint https://api.openai.com/v1 --model gpt-4o-mini
    prefsmith label --labeler judge --mode reference     # prompts with a reference answer only

`pairwise` judges every pair of a prompt's candidates in both orders: the label is
the verdict both orders give, or `inconsistent` (kept as such, never a tie).
`single` is the additive 5-point rubric of the self-rewarding recipe, ending in
`Score: <n>`; `reference` grades against the prompt's reference answer. Output
that can't be parsed is asked again at temperature 0 (`--parse-retries`), then
labeled `unparseable` with the raw text kept. Templates are files; their text is
part of the fingerprint.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.labelers.chat_client import ChatClient, ChatResult
from prefsmith.schemas import ids
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label
from prefsmith.schemas.reward_prompt import render_dialogue

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "judge"
MODES = {
    "pairwise": ("pair", "pairwise"),
    "single": ("candidate", "score"),
    "reference": ("candidate", "score"),
}
_VERDICT = re.compile(r"\[\[([ABC])\]\]")
_SCORE = re.compile(r"Score:\s*\**\s*([1-5])\b")


def parse_verdict(text: str) -> str | None:
    """'A', 'B' or 'C' (tie) from the last [[X]] of a pairwise judgment; None if absent."""
    found = _VERDICT.findall(text or "")
    return found[-1] if found else None


def parse_score(text: str) -> int | None:
    """The 1-5 score of the last `Score: n` of a graded judgment; None if absent."""
    found = _SCORE.findall(text or "")
    return int(found[-1]) if found else None


class JudgeOptions(LabelerOptions):
    mode: Literal["pairwise", "single", "reference"] = "pairwise"
    endpoint: str = "local"
    model: str | None = None
    template: str | None = None
    max_tokens: int = 512
    temperature: float = 0.0
    parse_retries: int = 2
    max_concurrency: int = 4
    timeout: float = 120.0


class JudgeLabeler(Labeler):
    key = "judge"
    Options = JudgeOptions
    options: JudgeOptions

    def __init__(self, options: JudgeOptions) -> None:
        super().__init__(options)
        self.unit, self.kind = MODES[options.mode]  # type: ignore[misc]
        template = Path(options.template) if options.template else TEMPLATES / f"{options.mode}.txt"
        if not template.is_file():
            raise UserError(f"--template {template}: no such file")
        self.template = template.read_text()
        if options.endpoint != "local" and not options.model:
            raise UserError("--model is required with a remote --endpoint")
        self.server: Any = None
        self.client: ChatClient | None = None

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        model = o.model or "bundled-smollm2-135m-instruct"
        return {
            "endpoint": "local" if o.endpoint == "local" else o.endpoint,
            "model": model,
            "mode": o.mode,
            "template": ids.hash_key(self.template),
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
        }

    def load(self) -> None:
        if self.client is not None:
            return
        o = self.options
        if o.endpoint == "local":
            from prefsmith.labelers.local_server import LocalServer

            self.server = LocalServer(o.model).start()
            base_url, model = self.server.base_url, self.server.model_name
        else:
            base_url, model = o.endpoint, o.model
        self.client = ChatClient(
            base_url, model, max_concurrency=o.max_concurrency, timeout=o.timeout
        )

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def _prompt(self, item: Item, first: str, second: str | None = None) -> list[dict[str, str]]:
        text = self.template.format(
            conversation=render_dialogue(item.messages),
            response=first,
            response_a=first,
            response_b=second or "",
            reference=item.reference or "",
        )
        return [{"role": "user", "content": text}]

    def _ask(self, prompts: list[list[dict[str, str]]], parse: Any) -> list[tuple[Any, ChatResult]]:
        """Answers with their parsed value; unparseable ones asked again at temperature 0."""
        sampling = {"max_tokens": self.options.max_tokens, "temperature": self.options.temperature}
        results = self.client.chat_many([(p, sampling) for p in prompts])
        parsed = [parse(r.text) if r.error is None else None for r in results]
        for _ in range(self.options.parse_retries):
            again = [i for i, r in enumerate(results) if r.error is None and parsed[i] is None]
            if not again:
                break
            retry = self.client.chat_many(
                [(prompts[i], {**sampling, "temperature": 0.0}) for i in again]
            )
            for i, result in zip(again, retry, strict=True):
                results[i], parsed[i] = result, parse(result.text) if result.error is None else None
        return list(zip(parsed, results, strict=True))

    def label_batch(self, items: list[Item]) -> list[Label]:
        if self.options.mode == "pairwise":
            return self._pairwise(items)
        labels, asked = (
            [],
            [i for i, item in enumerate(items) if self.options.mode == "single" or item.reference],
        )
        answers = dict(
            zip(
                asked,
                self._ask(
                    [self._prompt(items[i], items[i].contents[0]) for i in asked], parse_score
                ),
                strict=True,
            )
        )
        for index, item in enumerate(items):
            if index not in answers:
                labels.append(
                    self.make_label(
                        item, None, error="no_reference: the prompt has no reference answer"
                    )
                )
                continue
            score, result = answers[index]
            details = {"raw": result.text, "usage": result.usage}
            if result.error:
                labels.append(self.make_label(item, None, details, error=result.error))
            elif score is None:
                labels.append(self.make_label(item, None, details, error="unparseable"))
            else:
                labels.append(self.make_label(item, [float(score)], details))
        return labels

    def _pairwise(self, items: list[Item]) -> list[Label]:
        prompts = []
        for item in items:
            a, b = item.contents
            prompts += [self._prompt(item, a, b), self._prompt(item, b, a)]
        answers = self._ask(prompts, parse_verdict)
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
            if error:
                labels.append(self.make_label(item, None, details, error=error))
            elif first is None or second is None:
                labels.append(self.make_label(item, None, details, error="unparseable"))
            else:
                # In the second order B is the first candidate: map it back before comparing.
                swapped = {"A": "B", "B": "A", "C": "C"}[second]
                if first != swapped:
                    labels.append(self.make_label(item, None, details, error="inconsistent"))
                else:
                    scores = {"A": [1.0, 0.0], "B": [0.0, 1.0], "C": [0.5, 0.5]}[first]
                    labels.append(self.make_label(item, scores, details))
        return labels

    def summary(self, labels: list[Label]) -> dict[str, Any]:
        """Position and consistency figures of this run's pairwise judgments."""
        if self.options.mode != "pairwise":
            return {}
        judged = [
            label
            for label in labels
            if label.details.get("order_ab") and label.details.get("order_ba")
        ]
        if not judged:
            return {}
        verdicts = [label.details[k] for label in judged for k in ("order_ab", "order_ba")]
        return {
            "consistency": round(sum(label.error is None for label in judged) / len(judged), 4),
            "first_position_win_rate": round(verdicts.count("A") / len(verdicts), 4),
            "tie_rate": round(verdicts.count("C") / len(verdicts), 4),
        }
