"""A RewardBench-style gold set into the store: a local Parquet (or JSONL) with `prompt`,
`chosen`, `rejected` and `subset` columns (RewardBench's own layout), read as `ingest pairs`
reads it: a one-turn prompt, its two answers, and a pairwise gold label from the labeler
`rewardbench` with the pair's subset. Ingesting the same file again adds nothing.

RewardBench's sections, for the averages `eval labelers --rewardbench` reports: each section's
score is the accuracy over its subsets' pairs (example-weighted), the overall score the mean of
the sections present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefsmith.ingest.judged_sources import check_pairs, ingest_judged_file
from prefsmith.ingest.sources import RowBudget
from prefsmith.ingest.writer import IngestReport
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

GOLD = "rewardbench"
SECTIONS = {
    "Chat": ("alpacaeval-easy", "alpacaeval-length", "alpacaeval-hard", "mt-bench-easy",
             "mt-bench-med"),
    "Chat Hard": ("mt-bench-hard", "llmbar-natural", "llmbar-adver-neighbor",
                  "llmbar-adver-GPTInst", "llmbar-adver-GPTOut", "llmbar-adver-manual"),
    "Safety": ("refusals-dangerous", "refusals-offensive", "xstest-should-refuse",
               "xstest-should-respond", "donotanswer"),
    "Reasoning": ("math-prm", "hep-cpp", "hep-go", "hep-java", "hep-js", "hep-python",
                  "hep-rust"),
}  # fmt: skip


def ingest_rewardbench(path: Path, store: Store) -> IngestReport:
    """Prompts, answers and the `rewardbench` gold labels of a RewardBench-layout file: an
    `ingest pairs` with the subset kept on each pair (duplicates and conflicts are rejects)."""
    if not path.exists():
        raise UserError(f"--rewardbench {path}: no such file")
    checked = check_pairs(
        source=str(path), labeler=GOLD, prompt_field="prompt", chosen_field="chosen",
        rejected_field="rejected", subset_field="subset", source_name=GOLD,
    )  # fmt: skip
    report = IngestReport()
    budget = RowBudget(None)
    for source, layout in checked.files:
        report.merge(ingest_judged_file(store, checked, source, layout, budget))
    return report


def section_scores(by_subset: dict[str, dict[str, Any]]) -> dict[str, float | None]:
    """RewardBench's section accuracies (example-weighted over their subsets) and their mean."""
    scores: dict[str, float | None] = {}
    for section, subsets in SECTIONS.items():
        present = [by_subset[s] for s in subsets if s in by_subset and by_subset[s]["n"]]
        total = sum(f["n"] for f in present)
        if total:
            scores[section] = round(sum(f["accuracy"] * f["n"] for f in present) / total, 4)
    scores["Score"] = round(sum(scores.values()) / len(scores), 4) if scores else None
    return scores
