"""`prefsmith ingest completions`: a prompt with N completions and their ratings.

Three layouts are known (the first row tells which; flags name any other):

- generic: `{"prompt", "completions": [{"text", "model"}], "reference"}`;
- UltraFeedback's raw rows: `instruction`, `completions[].response`, `.model`, and ratings as
  strings under `annotations.ASPECT.Rating` ("N/A" where an aspect does not apply);
- HelpSteer2's flat rows: one response per row with its five attribute scores, multi-turn
  prompts joined by `<extra_id_1>` markers.

Each rating is a score label: `--ratings PATH=NAME:ASPECT` puts aspects of one labeler in one
label per completion (`details.aspect_scores`, the score their mean), as the rubric judges'.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefsmith.ingest.pair_layouts import RowProblem, messages_of
from prefsmith.ingest.writer import DEFAULT_BATCH_ROWS, IngestReport, write_tables
from prefsmith.schemas.batching import batched
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.preference_ingest import CompletionIngestConfig
from prefsmith.schemas.records import Candidate, Label, Prompt, Reject, SourceRow, now, to_table
from prefsmith.store import Store

ULTRAFEEDBACK_ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")
HELPSTEER2_ASPECTS = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")


@dataclass(frozen=True)
class CompletionLayout:
    name: str
    prompt: str
    completions: str | None  # None: the row is one completion
    text: str
    model: str | None
    reference: str | None
    ratings: tuple[tuple[str, str, str | None], ...] = field(default=())  # path, labeler, aspect


def parse_ratings(items: Iterable[str]) -> tuple[tuple[str, str, str | None], ...]:
    """`PATH[=NAME[:ASPECT]]` -> (path, labeler, aspect)."""
    found = []
    for item in items:
        path, _, name = item.partition("=")
        if not path:
            raise UserError(f"--ratings {item!r}: give PATH[=NAME]")
        labeler, _, aspect = (name or path).partition(":")
        found.append((path, labeler, aspect or None))
    return tuple(found)


def detect_completions(
    record: Mapping[str, Any], config: CompletionIngestConfig
) -> CompletionLayout:
    """The layout of the first row, with every flag given winning over it."""
    first = (
        (record.get("completions") or [{}])[0]
        if isinstance(record.get("completions"), list)
        else {}
    )
    if "instruction" in record and isinstance(first, Mapping) and "response" in first:
        known = CompletionLayout("ultrafeedback", "instruction", "completions", "response", "model", None,
                                 tuple((f"annotations.{a}.Rating", "ultrafeedback", a) for a in ULTRAFEEDBACK_ASPECTS))  # fmt: skip
    elif {"prompt", "response", *HELPSTEER2_ASPECTS} <= set(record):
        known = CompletionLayout("helpsteer2", "prompt", None, "response", None, None,
                                 tuple((a, "helpsteer2", a) for a in HELPSTEER2_ASPECTS))  # fmt: skip
    else:
        known = CompletionLayout("generic", "prompt", "completions", "text", "model", "reference")
    layout = CompletionLayout(
        name=known.name,
        prompt=config.prompt_field or known.prompt,
        completions=config.completions_field or known.completions,
        text=config.text_field or known.text,
        model=config.model_field or known.model,
        reference=config.reference_field or known.reference,
        ratings=parse_ratings(config.ratings) if config.ratings else known.ratings,
    )
    missing = [c for c in (layout.prompt, layout.completions) if c and c not in record]
    if missing:
        raise UserError(
            f"completions: no column {', '.join(missing)} in the first row "
            f"({', '.join(sorted(record))}); name it with --prompt-field / --completions-field"
        )
    return layout


def _path(value: Any, path: str) -> Any:
    for part in path.split("."):
        if isinstance(value, list) and len(value) == 1:
            value = value[0]  # older UltraFeedback dumps keep each annotation in a list
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def _number(value: Any) -> float | None:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None  # "N/A"
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def helpsteer_messages(text: str) -> list[dict[str, str]]:
    """HelpSteer2's multi-turn prompt (`...\\n<extra_id_1>Assistant\\n...`) as messages."""
    parts = text.split("\n<extra_id_1>")
    messages = [{"role": "user", "content": parts[0]}]
    for part in parts[1:]:
        role, _, content = part.partition("\n")
        if role not in ("User", "Assistant"):
            raise RowProblem("malformed_messages")
        messages.append({"role": role.lower(), "content": content})
    return messages


@dataclass
class CompletionRules:
    layout: CompletionLayout
    fingerprint: str
    source_name: str


def convert_completion_row(record: Mapping[str, Any], rules: CompletionRules):
    """A row -> (prompt, candidates, labels); RowProblem(reason) if it can't be used."""
    layout, source = rules.layout, rules.source_name
    text = record.get(layout.prompt)
    if text is None or (isinstance(text, str) and not text.strip()):
        raise RowProblem("missing_prompt")
    helpsteer = layout.name == "helpsteer2" and isinstance(text, str)
    messages = helpsteer_messages(text) if helpsteer else messages_of(text)
    reference = record.get(layout.reference) if layout.reference else None
    prompt = Prompt(messages=messages, source=source,
                    reference=reference if isinstance(reference, str) else None)  # fmt: skip
    entries = [record] if layout.completions is None else record.get(layout.completions)
    if not isinstance(entries, list):
        raise RowProblem("malformed_completions")
    candidates, labels = [], []
    for entry in entries:
        answer = entry.get(layout.text) if isinstance(entry, Mapping) else entry
        if not isinstance(answer, str) or not answer.strip():
            continue
        model = entry.get(layout.model) if layout.model and isinstance(entry, Mapping) else None
        candidate = Candidate(prompt.prompt_id, answer, f"{source}:{model}" if model else source)
        candidates.append(candidate)
        labels += _rating_labels(entry, candidate, rules)
    if not candidates:
        raise RowProblem("no_completions")
    return prompt, candidates, labels


def _rating_labels(entry: Any, candidate: Candidate, rules: CompletionRules) -> list[Label]:
    plain, aspects = {}, defaultdict(dict)
    for path, labeler, aspect in rules.layout.ratings:
        value = _number(_path(entry, path))
        if value is None:
            continue
        if aspect is None:
            plain[labeler] = value
        else:
            aspects[labeler][aspect] = value
    labels = [Label(name, rules.fingerprint, "score", candidate.prompt_id,
                    [candidate.candidate_id], [score]) for name, score in plain.items()]  # fmt: skip
    for name, found in aspects.items():
        mean = sum(found.values()) / len(found)
        details = {"aspect_scores": {a: [v] for a, v in found.items()}}
        labels.append(Label(name, rules.fingerprint, "score", candidate.prompt_id,
                            [candidate.candidate_id], [mean], details))  # fmt: skip
    return labels


def ingest_completion_rows(
    rows: Iterable[SourceRow],
    store: Store,
    rules: CompletionRules,
    *,
    source_key: str,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> IngestReport:
    """Rows -> prompts, candidates and rating labels, in batches; rejects by reason."""
    started = time.perf_counter()
    report = IngestReport()
    for batch in batched(rows, batch_rows):
        prompts, candidates, labels, rejects = [], [], [], []
        for row in batch:
            report.rows_read += 1
            reason = row.reason
            if reason is None and row.record is not None:
                try:
                    prompt, found, rated = convert_completion_row(row.record, rules)
                except RowProblem as problem:
                    reason = problem.reason
            if reason is not None or row.record is None:
                reason = reason or "unreadable"
                report.rejects_by_reason[reason] += 1
                rejects.append(Reject.of_row(row, source_key, reason))
                continue
            report.rows_used += 1
            prompts.append(prompt)
            candidates += found
            labels += rated
        stamp = now()
        tables = {name: [to_table(name, records, stamp)] for name, records in
                  (("prompts", prompts), ("candidates", candidates), ("labels", labels),
                   ("rejects", rejects))}  # fmt: skip
        write_tables(store, tables, report)
    report.seconds = time.perf_counter() - started
    return report
