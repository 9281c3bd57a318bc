"""Checking an `ingest pairs|labels|completions` source before any work: its files, each file's layout,
and the fingerprint its labels get (the content hash of the files and the field mapping, so
the same file again adds nothing and a different file for the same labeler is a new one)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import xxhash

from prefsmith.ingest.completions import (
    CompletionLayout,
    CompletionRules,
    detect_completions,
    ingest_completion_rows,
)
from prefsmith.ingest.pair_columns import ingest_pair_blocks, reads_column_wise
from prefsmith.ingest.pair_layouts import PairLayout, detect_layout, score_layout
from prefsmith.ingest.pairs import PairIngest, PairRules, ingest_pair_rows
from prefsmith.ingest.prompt_sets import first_record
from prefsmith.ingest.sources import (
    RowBudget,
    SourceFile,
    check_hub_dataset,
    hub_id,
    is_json_array,
    iter_file,
    load_hub_rows,
    resolve_files,
)
from prefsmith.ingest.writer import IngestReport
from prefsmith.schemas.config import validate
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.ids import fingerprint
from prefsmith.schemas.preference_ingest import (
    CompletionIngestConfig,
    LabelIngestConfig,
    PairFields,
    PairIngestConfig,
)
from prefsmith.store import Store
from prefsmith.store.queries import candidate_prompts

FILE_KINDS = ("jsonl", "parquet", "csv")


@dataclass(frozen=True)
class PairSource:
    """A checked source: its files with their layouts (or a Hub id and its layout)."""

    config: PairFields
    files: tuple[tuple[SourceFile, PairLayout], ...]
    repo_id: str | None
    hub_layout: PairLayout | None
    fingerprint: str

    @property
    def layouts(self) -> list[str]:
        found = [layout.name for _, layout in self.files]
        return sorted(set(found + ([self.hub_layout.name] if self.hub_layout else [])))


def file_digest(source: SourceFile) -> str:
    digest = xxhash.xxh3_128()
    with open(source.path, "rb") as file:
        while chunk := file.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def _layout_of(record: dict[str, Any] | None, where: str, config: PairFields) -> PairLayout:
    if record is None:
        raise UserError(f"{where}: no readable row")
    if isinstance(config, LabelIngestConfig) and config.score_field:
        layout = score_layout(
            record, config.score_field, config.answer_field, config.prompt_field, config.by_ids
        )
    else:
        layout = detect_layout(record.keys(), config)
    if isinstance(config, LabelIngestConfig) and config.by_ids:
        if config.add_texts:
            raise UserError("labels: --by-ids names answers in the store; --add-texts has no texts")
        layout = replace(layout, by_ids=True)
    return layout


def check_pair_source(model: type[PairFields], **parameters: Any) -> PairSource:
    """Validate an ingest of pairs or labels and plan every file; UserError if it can't run."""
    config = validate(model, parameters)
    repo_id = hub_id(config.source)
    mapping = {k: v for k, v in config.model_dump().items() if k not in ("source", "limit")}
    if repo_id is not None:
        check_hub_dataset(repo_id)
        first = first_record(load_hub_rows(repo_id, config.split))
        layout = _layout_of(first, repo_id, config)
        key = fingerprint(hub=f"{repo_id}:{config.split}", mapping=mapping)
        return PairSource(config, (), repo_id, layout, key)
    files = tuple(
        (source, _layout_of(first_record(iter_file(source)), str(source.path), config))
        for source in resolve_files(config.source, FILE_KINDS)
    )
    contents = sorted(file_digest(source) for source, _ in files)
    layouts = [asdict(layout) for _, layout in files]
    return PairSource(config, files, None, None, fingerprint(files=contents, mapping=layouts))


def check_pairs(**parameters: Any) -> PairSource:
    return check_pair_source(PairIngestConfig, **parameters)


def check_labels(**parameters: Any) -> PairSource:
    return check_pair_source(LabelIngestConfig, **parameters)


def _folder_subset(config: PairFields, source: SourceFile | None) -> str | None:
    if not config.subset_from_folder or source is None:
        return None
    root = Path(config.source).expanduser()
    folder = source.path.parent.relative_to(root) if root.is_dir() else Path()
    return folder.as_posix() if folder.parts else source.path.parent.name


def ingest_judged_file(
    store: Store,
    checked: PairSource,
    source: SourceFile | None,
    layout: PairLayout,
    budget: RowBudget,
    *,
    known: bool = False,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """One file of a checked source (or its Hub split, `source` None) into the store; with
    `known`, answers must already be in the store (`ingest labels` without --add-texts)."""
    config = checked.config
    where = str(source.path) if source else f"{checked.repo_id}"
    rules = PairRules(
        layout=layout,
        labeler=config.labeler,
        fingerprint=checked.fingerprint,
        source_name=config.source_name or where.rsplit("/", 1)[-1].split(".")[0],
        conflicts=config.conflicts,
        subset=_folder_subset(config, source),
        known=candidate_prompts(store) if known else None,
    )
    if source is None:
        rows = budget.take(load_hub_rows(checked.repo_id or "", config.split))
        key = f"hub://{checked.repo_id}:{config.split}"
        return ingest_pair_rows(rows, store, rules, source_key=key)
    key = str(source.path.resolve())
    whole = budget.left is None and not known and not is_json_array(source.path)
    if whole and reads_column_wise(layout, source):
        ingest = PairIngest(store, rules, key)
        ingest_pair_blocks(ingest, layout, source, on_progress)
        return ingest.finish()
    rows = budget.take(iter_file(source, on_progress))
    return ingest_pair_rows(rows, store, rules, source_key=key)


@dataclass(frozen=True)
class CompletionSource:
    """A checked `ingest completions` source: its files with their layouts, or a Hub id."""

    config: CompletionIngestConfig
    files: tuple[tuple[SourceFile, CompletionLayout], ...]
    repo_id: str | None
    hub_layout: CompletionLayout | None
    fingerprint: str


def check_completions(**parameters: Any) -> CompletionSource:
    """Validate an ingest of completions and plan every file; UserError if it can't run."""
    config = validate(CompletionIngestConfig, parameters)
    repo_id = hub_id(config.source)
    if repo_id is not None:
        check_hub_dataset(repo_id)
        first = first_record(load_hub_rows(repo_id, config.split))
        if first is None:
            raise UserError(f"{repo_id}: no readable row")
        layout = detect_completions(first, config)
        key = fingerprint(hub=f"{repo_id}:{config.split}", layout=asdict(layout))
        return CompletionSource(config, (), repo_id, layout, key)
    files = []
    for source in resolve_files(config.source, FILE_KINDS):
        first = first_record(iter_file(source))
        if first is None:
            raise UserError(f"{source.path}: no readable row")
        files.append((source, detect_completions(first, config)))
    contents = sorted(file_digest(source) for source, _ in files)
    key = fingerprint(files=contents, layouts=[asdict(layout) for _, layout in files])
    return CompletionSource(config, tuple(files), None, None, key)


def ingest_completion_file(
    store: Store,
    checked: CompletionSource,
    source: SourceFile | None,
    layout: CompletionLayout,
    budget: RowBudget,
    on_progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """One file of a checked completions source (or its Hub split) into the store."""
    where = str(source.path) if source else f"{checked.repo_id}"
    name = checked.config.source_name or where.rsplit("/", 1)[-1].split(".")[0]
    rules = CompletionRules(layout, checked.fingerprint, name)
    if source is None:
        rows = budget.take(load_hub_rows(checked.repo_id or "", checked.config.split))
        key = f"hub://{checked.repo_id}:{checked.config.split}"
        return ingest_completion_rows(rows, store, rules, source_key=key)
    rows = budget.take(iter_file(source, on_progress))
    return ingest_completion_rows(rows, store, rules, source_key=str(source.path.resolve()))
