"""Ingest flows: hh-rlhf preference pairs and prompt sets into the store.

    prefsmith ingest hh-rlhf data/harmless-base/test.jsonl.gz --store store/
    prefsmith ingest prompts mt_bench_questions.jsonl --format mt-bench --store store/

Each input file is one task; rows the store already holds are skipped, so a
rerun (or a run after a crash) adds only what is missing.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.ingest import judged_sources
from prefsmith.ingest.completions import CompletionLayout
from prefsmith.ingest.hh_rlhf import check_hh_source, ingest_hh_jsonl, ingest_hh_rows
from prefsmith.ingest.judged_sources import (
    CompletionSource,
    PairSource,
    check_completions,
    check_labels,
    check_pairs,
)
from prefsmith.ingest.pair_layouts import PairLayout
from prefsmith.ingest.prompt_sets import PromptRowPlan, check_prompt_source, ingest_prompt_rows
from prefsmith.ingest.sources import RowBudget, SourceFile, iter_file, load_hub_rows
from prefsmith.ingest.writer import IngestReport
from prefsmith.runtime.progress import progress_bar
from prefsmith.schemas.config import HHIngestConfig, PromptIngestConfig
from prefsmith.schemas.preference_ingest import (
    CompletionIngestConfig,
    LabelIngestConfig,
    PairIngestConfig,
)
from prefsmith.store import Store


def _file_name(source: SourceFile) -> str:
    return source.path.name.split(".")[0]


@task(name="ingest_hh_file", cache_policy=NONE, persist_result=False)
def ingest_hh_file(
    source: SourceFile, store: str, config: HHIngestConfig, budget: RowBudget
) -> IngestReport:
    options = {
        "source_key": str(source.path.resolve()),
        "source_name": config.source_name or f"hh-rlhf:{_file_name(source)}",
        "allow_empty": config.allow_empty,
    }
    with progress_bar(source.path.name, total=source.size, unit="bytes") as advance:
        if source.kind == "jsonl" and budget.left is None:
            return ingest_hh_jsonl(source.path, Store(store), on_progress=advance, **options)
        return ingest_hh_rows(budget.take(iter_file(source, advance)), Store(store), **options)


@task(name="ingest_hh_hub", cache_policy=NONE, persist_result=False)
def ingest_hh_hub(store: str, config: HHIngestConfig, repo_id: str) -> IngestReport:
    subset = config.subset or "all"
    rows = load_hub_rows(repo_id, config.split, data_dir=config.subset)
    return ingest_hh_rows(
        RowBudget(config.limit).take(rows),
        Store(store),
        source_key=f"hub://{repo_id}:{subset}:{config.split}",
        source_name=config.source_name or f"{repo_id}:{subset}",
        allow_empty=config.allow_empty,
    )


@flow(name="ingest-hh-rlhf")
def ingest_hh_rlhf(store: str, config: HHIngestConfig) -> dict[str, Any]:
    """Ingest Anthropic hh-rlhf: a .jsonl/.jsonl.gz/.parquet file, a directory of them,
    or `Anthropic/hh-rlhf` with a `subset` from the Hub (the fields of `HHIngestConfig`, as
    in a run config's `ingest: hh_rlhf:` entries). Returns the ingest summary."""
    started = time.perf_counter()
    checked = check_hh_source(**HHIngestConfig.model_validate(config).model_dump())
    report = IngestReport()
    if checked.repo_id is not None:
        report.merge(ingest_hh_hub(store, checked.config, checked.repo_id))
    budget = RowBudget(checked.config.limit)
    for source_file in checked.files:
        report.merge(ingest_hh_file(source_file, store, checked.config, budget))
    report.seconds = time.perf_counter() - started
    return {"command": "ingest hh-rlhf", "source": checked.config.source, **report.to_dict()}


@task(name="ingest_prompt_file", cache_policy=NONE, persist_result=False)
def ingest_prompt_file(
    source: SourceFile,
    plan: PromptRowPlan,
    store: str,
    config: PromptIngestConfig,
    references: dict[str, list[str]] | None,
    budget: RowBudget,
) -> IngestReport:
    with progress_bar(source.path.name, total=source.size, unit="bytes") as advance:
        return ingest_prompt_rows(
            budget.take(iter_file(source, advance)),
            Store(store),
            plan,
            source_key=str(source.path.resolve()),
            source_name=config.source_name or _file_name(source),
            references=references,
        )


@task(name="ingest_prompt_hub", cache_policy=NONE, persist_result=False)
def ingest_prompt_hub(
    store: str, config: PromptIngestConfig, repo_id: str, references: dict[str, list[str]] | None
) -> IngestReport:
    from prefsmith.ingest.prompt_sets import first_record, plan_prompt_rows

    plan = plan_prompt_rows(first_record(load_hub_rows(repo_id, config.split)), repo_id, config)
    return ingest_prompt_rows(
        RowBudget(config.limit).take(load_hub_rows(repo_id, config.split)),
        Store(store),
        plan,
        source_key=f"hub://{repo_id}:{config.split}",
        source_name=config.source_name or repo_id,
        references=references,
    )


@flow(name="ingest-prompts")
def ingest_prompts(store: str, config: PromptIngestConfig) -> dict[str, Any]:
    """Ingest a prompt set (JSONL/Parquet/CSV, chat messages, MT-Bench questions, or a
    Hub dataset id) with optional reference answers joined by question id (the fields of
    `PromptIngestConfig`, as in a run config's `ingest: prompts:` entries)."""
    started = time.perf_counter()
    checked = check_prompt_source(**PromptIngestConfig.model_validate(config).model_dump())
    report = IngestReport()
    if checked.repo_id is not None:
        report.merge(ingest_prompt_hub(store, checked.config, checked.repo_id, checked.references))
    budget = RowBudget(checked.config.limit)
    for source_file, plan in checked.files:
        report.merge(
            ingest_prompt_file(source_file, plan, store, checked.config, checked.references, budget)
        )
    report.seconds = time.perf_counter() - started
    return {"command": "ingest prompts", "source": checked.config.source, **report.to_dict()}


@task(name="ingest_judged_file", cache_policy=NONE, persist_result=False)
def ingest_judged_file(
    store: str,
    checked: PairSource,
    source: SourceFile | None,
    layout: PairLayout,
    budget: RowBudget,
    known: bool,
) -> IngestReport:
    if source is None:
        return judged_sources.ingest_judged_file(
            Store(store), checked, None, layout, budget, known=known
        )
    with progress_bar(source.path.name, total=source.size, unit="bytes") as advance:
        return judged_sources.ingest_judged_file(
            Store(store), checked, source, layout, budget, known=known, on_progress=advance
        )


def _judged(store: str, checked: PairSource, command: str, known: bool) -> dict[str, Any]:
    started = time.perf_counter()
    report = IngestReport()
    budget = RowBudget(checked.config.limit)
    if checked.hub_layout is not None:
        report.merge(ingest_judged_file(store, checked, None, checked.hub_layout, budget, known))
    for source_file, layout in checked.files:
        report.merge(ingest_judged_file(store, checked, source_file, layout, budget, known))
    report.seconds = time.perf_counter() - started
    return {
        "command": command,
        "source": checked.config.source,
        "labeler": checked.config.labeler,
        "layouts": checked.layouts,
        **report.to_dict(),
    }


@flow(name="ingest-pairs")
def ingest_pairs(store: str, config: PairIngestConfig) -> dict[str, Any]:
    """Ingest judged pairs or rankings in any layout (UltraFeedback-style pairs, Arena,
    HelpSteer3, PKU-SafeRLHF, LLMBar, JudgeBench, RewardBench, Nectar, or fields named by the
    fields of `PairIngestConfig`): prompts, answers and one label per row and labeler."""
    checked = check_pairs(**PairIngestConfig.model_validate(config).model_dump())
    return _judged(store, checked, "ingest pairs", known=False)


@flow(name="ingest-labels")
def ingest_labels(store: str, config: LabelIngestConfig) -> dict[str, Any]:
    """Ingest judgments made elsewhere on answers the store holds (named by their texts);
    `add_texts` adds the prompts and answers it lacks instead of rejecting them."""
    config = LabelIngestConfig.model_validate(config)
    checked = check_labels(**config.model_dump())
    return _judged(store, checked, "ingest labels", known=not config.add_texts)


@task(name="ingest_completion_file", cache_policy=NONE, persist_result=False)
def ingest_completion_file(
    store: str,
    checked: CompletionSource,
    source: SourceFile | None,
    layout: CompletionLayout,
    budget: RowBudget,
) -> IngestReport:
    if source is None:
        return judged_sources.ingest_completion_file(Store(store), checked, None, layout, budget)
    with progress_bar(source.path.name, total=source.size, unit="bytes") as advance:
        return judged_sources.ingest_completion_file(
            Store(store), checked, source, layout, budget, on_progress=advance
        )


@flow(name="ingest-completions")
def ingest_completions(store: str, config: CompletionIngestConfig) -> dict[str, Any]:
    """Ingest prompts with N completions and their ratings (generic, UltraFeedback's raw
    layout, HelpSteer2's flat one, or fields named by `CompletionIngestConfig`): each rating is a
    score label, each completion's model its origin, the reference the prompt's."""
    started = time.perf_counter()
    checked = check_completions(**CompletionIngestConfig.model_validate(config).model_dump())
    report = IngestReport()
    budget = RowBudget(checked.config.limit)
    if checked.hub_layout is not None:
        report.merge(ingest_completion_file(store, checked, None, checked.hub_layout, budget))
    for source_file, layout in checked.files:
        report.merge(ingest_completion_file(store, checked, source_file, layout, budget))
    report.seconds = time.perf_counter() - started
    layouts = sorted({layout.name for _, layout in checked.files} | (
        {checked.hub_layout.name} if checked.hub_layout else set()))  # fmt: skip
    return {"command": "ingest completions", "source": checked.config.source,
            "layouts": layouts, **report.to_dict()}  # fmt: skip
