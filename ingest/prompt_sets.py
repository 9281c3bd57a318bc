"""Prompt sets into the store: column mapping decided up front, references joined by id."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from prefsmith.ingest.prompt_layouts import (
    ID_FIELD_GUESSES,
    PROMPT_FIELD_GUESSES,
    PromptRowError,
    attach_reference,
    detect_row_format,
    from_messages_row,
    from_mt_bench_row,
    from_text_row,
    guess_field,
    reference_of,
)
from prefsmith.ingest.sources import (
    SourceFile,
    check_hub_dataset,
    hub_id,
    iter_file,
    resolve_files,
)
from prefsmith.ingest.writer import DEFAULT_BATCH_ROWS, IngestReport, write_tables
from prefsmith.schemas.batching import batched
from prefsmith.schemas.config import PromptIngestConfig, validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Prompt, Reject, SourceRow, now, to_table
from prefsmith.store import Store

ALL_KINDS = ("jsonl", "parquet", "csv")


@dataclass(frozen=True, slots=True)
class PromptRowPlan:
    """How rows of one prompt source become prompts (decided before anything is written)."""

    row_format: str  # "prompt" | "messages" | "mt-bench"
    prompt_field: str | None
    messages_field: str | None
    id_field: str | None

    def convert(self, record: dict[str, Any], source_name: str) -> Prompt:
        if self.row_format == "mt-bench":
            return from_mt_bench_row(record, source_name, self.id_field)
        if self.row_format == "messages":
            return from_messages_row(
                record, self.messages_field or "messages", source_name, self.id_field
            )
        return from_text_row(record, self.prompt_field or "prompt", source_name, self.id_field)


def plan_prompt_rows(
    first: dict[str, Any] | None, where: str, config: PromptIngestConfig
) -> PromptRowPlan:
    """Decide how to read a prompt source from its first row; UserError if it can't be read."""
    if first is None:
        raise UserError(f"{where}: no readable rows")
    columns = list(first)
    shown = ", ".join(columns[:20])
    prompt_field, messages_field = config.prompt_field, config.messages_field
    for flag, name in (("--prompt-field", prompt_field), ("--messages-field", messages_field)):
        if name is not None and name not in first:
            raise UserError(f"{where}: no column {name!r} for {flag} (columns: {shown})")
    if config.id_field is not None and config.id_field not in first:
        raise UserError(f"{where}: no column {config.id_field!r} for --id-field (columns: {shown})")
    row_format = config.format
    if row_format in ("auto", "jsonl", "parquet", "csv"):
        if messages_field:
            row_format = "messages"
        elif prompt_field:
            row_format = "prompt"
        else:
            row_format = detect_row_format(columns)
    if row_format == "mt-bench" and "turns" not in first:
        raise UserError(f"{where}: MT-Bench format needs a 'turns' column (columns: {shown})")
    if row_format == "messages" and (messages_field or "messages") not in first:
        raise UserError(f"{where}: no 'messages' column; pass --messages-field (columns: {shown})")
    if row_format == "prompt":
        prompt_field = prompt_field or guess_field(columns, PROMPT_FIELD_GUESSES)
        if prompt_field is None:
            raise UserError(
                f"{where}: no prompt column found; pass --prompt-field (columns: {shown})"
            )
    return PromptRowPlan(
        row_format=row_format,
        prompt_field=prompt_field,
        messages_field=messages_field,
        id_field=config.id_field or guess_field(columns, ID_FIELD_GUESSES),
    )


def first_record(rows: Iterable[SourceRow]) -> dict[str, Any] | None:
    return next((row.record for row in rows if row.record is not None), None)


@dataclass(frozen=True)
class PromptSource:
    """A checked prompt-set input: files with their plans (or a Hub id) and references."""

    config: PromptIngestConfig
    files: tuple[tuple[SourceFile, PromptRowPlan], ...] = ()
    repo_id: str | None = None
    references: dict[str, list[str]] | None = None


def check_prompt_source(**parameters: object) -> PromptSource:
    """Validate a prompt-set ingest and plan every file before any work; UserError if not."""
    config = validate(PromptIngestConfig, parameters)
    references = _load_references(config.references) if config.references else None
    repo_id = hub_id(config.source)
    if repo_id is not None:
        check_hub_dataset(repo_id)
        return PromptSource(config, repo_id=repo_id, references=references)
    kinds = (config.format,) if config.format in ALL_KINDS else ALL_KINDS
    files = tuple(
        (source, plan_prompt_rows(first_record(iter_file(source)), str(source.path), config))
        for source in resolve_files(config.source, kinds)
    )
    return PromptSource(config, files=files, references=references)


def _load_references(path: str) -> dict[str, list[str]]:
    references: dict[str, list[str]] = {}
    for source in resolve_files(path, ALL_KINDS):
        for row in iter_file(source):
            found = reference_of(row.record) if row.record is not None else None
            if found is not None:
                references.setdefault(str(found[0]), found[1])
    if not references:
        raise UserError(f"no reference answers with an id (question_id, id) in {path}")
    return references


def ingest_prompt_rows(
    rows: Iterable[SourceRow],
    store: Store,
    plan: PromptRowPlan,
    *,
    source_key: str,
    source_name: str,
    references: dict[str, list[str]] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> IngestReport:
    """Prompt-set rows -> prompts, with reference answers joined by the id field."""
    started = time.perf_counter()
    report = IngestReport()
    report.extra["references_joined"] = 0
    seen_ids: dict[str, str] = {}
    for batch in batched(rows, batch_rows):
        prompts: list[Prompt] = []
        rejects: list[Reject] = []
        for row in batch:
            report.rows_read += 1
            reason, prompt = row.reason, None
            if reason is None and row.record is not None:
                try:
                    prompt = plan.convert(row.record, source_name)
                except PromptRowError as error:
                    reason = error.reason
            key = row.record.get(plan.id_field) if prompt and plan.id_field and row.record else None
            if prompt is not None and key is not None:
                if seen_ids.setdefault(str(key), prompt.prompt_id) != prompt.prompt_id:
                    reason, prompt = "duplicate_id", None
                elif references and str(key) in references:
                    attach_reference(prompt, references[str(key)])
                    report.extra["references_joined"] += 1
            if prompt is None:
                reason = reason or "missing_prompt"
                report.rejects_by_reason[reason] += 1
                rejects.append(Reject.of_row(row, source_key, reason))
            else:
                report.rows_used += 1
                prompts.append(prompt)
        stamp = now()
        tables = {
            "prompts": [to_table("prompts", prompts, stamp)],
            "rejects": [to_table("rejects", rejects, stamp)],
        }
        write_tables(store, tables, report)
    report.seconds = time.perf_counter() - started
    return report
