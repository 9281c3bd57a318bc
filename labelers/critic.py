"""`critic`: an LLM marks the good and bad spans of each response (dense, span-level rewards).

    prefsmith label --labeler critic --endpoint local --task helpful-harmless --with-label rm-hh
    prefsmith label --labeler critic --endpoint URL --model NAME --task-description "The task is ..."

The critic sees the task description, the conversation, the response and (with
`--with-label`) another labeler's score of it, and answers with JSON quoting the
positive and negative spans (the server's JSON mode is asked for where it has one).
Quotes are located in the response exactly or tolerantly; those that can't be found
are kept in the details as `unlocated`, never guessed. Invalid JSON is asked again
at temperature 0, then labeled `invalid_json` with the raw text kept. The label's
score is the share of located characters that are positive minus the negative share.
`prefsmith build token-rewards` turns the spans into one reward per token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from prefsmith.builders.spans import locate_all, parse_critique
from prefsmith.labelers.base import Item
from prefsmith.labelers.chat_labeler import ChatLabeler, ChatLabelerOptions
from prefsmith.schemas import ids, locations
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, render_dialogue

TEMPLATES = locations.TEMPLATES / "critic"
QUOTES = {"type": "array", "items": {"type": "string", "maxLength": 300}, "maxItems": 6}
SCHEMA = {
    "type": "object",
    "properties": {"positive": QUOTES, "negative": QUOTES},
    "required": ["positive", "negative"],
}


class CriticOptions(ChatLabelerOptions):
    task: str = "helpful-harmless"
    task_description: str | None = None
    with_label: str | None = None  # a score labeler whose value the critic is shown
    json_mode: bool = True
    max_tokens: int = 384


class CriticLabeler(ChatLabeler):
    key = "critic"
    unit = "candidate"
    kind = "critique"
    Options = CriticOptions
    options: CriticOptions

    def __init__(self, options: CriticOptions) -> None:
        super().__init__(options)
        presets = yaml.safe_load((TEMPLATES / "presets.yaml").read_text())
        if options.task_description is None and options.task not in presets:
            raise UserError(f"--task must be one of {', '.join(presets)} (or --task-description)")
        self.task_description = options.task_description or presets[options.task]
        template = Path(options.template) if options.template else TEMPLATES / "template.txt"
        if not template.is_file():
            raise UserError(f"--template {template}: no such file")
        self.template = template.read_text()
        self.shown: dict[str, float] = {}

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        return {
            **self.endpoint_fingerprint(),
            "task": ids.hash_key(self.task_description),
            "template": ids.hash_key(self.template),
            "with_label": o.with_label,
            "json_mode": o.json_mode,
            "max_tokens": o.max_tokens,
            "temperature": o.temperature,
        }

    def prepare(self, store: Any) -> None:
        """Read the scores the critic is shown (`--with-label`)."""
        super().prepare(store)
        if self.options.with_label is None:
            return
        from prefsmith.store import labels_of

        _, _, labels, _ = labels_of(store, self.options.with_label)
        if any(label["kind"] != "score" for label in labels):
            raise UserError(f"--with-label {self.options.with_label}: needs a score labeler")
        self.shown = {
            label["candidate_ids"][0]: label["scores"][0] for label in labels if label["scores"]
        }

    def _prompt(self, item: Item) -> list[dict[str, str]]:
        value = self.shown.get(item.candidate_ids[0])
        reward_line = (
            f"\nThe response received a reward of {value:.3f} from {self.options.with_label}.\n"
            if value is not None
            else ""
        )
        text = self.template.format(
            task_description=self.task_description,
            conversation=render_dialogue(item.messages),
            response=item.contents[0],
            reward_line=reward_line,
        )
        return [{"role": "user", "content": text}]

    def label_batch(self, items: list[Item]) -> list[Label]:
        sampling: dict[str, Any] = {
            "max_tokens": self.options.max_tokens,
            "temperature": self.options.temperature,
        }
        if self.structured:
            sampling["response_format"] = {"type": "json_object", "schema": SCHEMA}
        elif self.options.json_mode:
            sampling["response_format"] = {"type": "json_object"}
        prompts = [self._prompt(item) for item in items]
        answers = self.ask(prompts, sampling, parse_critique)
        return [
            self._label(item, critique, result)
            for item, (critique, result) in zip(items, answers, strict=True)
        ]

    def _label(self, item: Item, critique: dict | None, result: Any) -> Label:
        details: dict[str, Any] = {"raw": result.text, "usage": result.usage}
        if result.error:
            return self.make_label(item, None, details, error=result.error)
        if critique is None:
            return self.make_label(item, None, details, error="invalid_json")
        response = item.contents[0]
        spans, unlocated = locate_all(response, critique)
        details.update(
            spans=spans, unlocated=unlocated, shown_reward=self.shown.get(item.candidate_ids[0])
        )
        share = {"positive": 0, "negative": 0}
        for span in spans:
            share[span["polarity"]] += span["end"] - span["start"]
        score = (share["positive"] - share["negative"]) / max(len(response), 1)
        return self.make_label(item, [round(score, 6)], details)
