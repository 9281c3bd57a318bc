"""A RewardBench-style gold set into the store: a local Parquet (or JSONL) with `prompt`,
`chosen`, `rejected` and `subset` columns (RewardBench's own layout). Each row becomes a
one-turn prompt (source `rewardbench:SUBSET`, the subset also in its metadata), its two
answers, and a pairwise gold label from the labeler `rewardbench`. Ingesting the same file
again adds nothing.

RewardBench's sections, for the averages `eval labelers --rewardbench` reports: each section's
score is the accuracy over its subsets' pairs (example-weighted), the overall score the mean of
the sections present.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefsmith.ingest.writer import IngestReport, write_tables
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Label, Prompt, now, to_table
from prefsmith.store import Store

GOLD = "rewardbench"
COLUMNS = ("prompt", "chosen", "rejected", "subset")
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


def _rows(path: Path) -> list[dict[str, Any]]:
    import polars as pl

    if not path.is_file():
        raise UserError(f"--rewardbench {path}: no such file")
    try:
        frame = pl.read_parquet(path) if path.suffix == ".parquet" else pl.read_ndjson(path)
    except Exception as error:  # polars raises several kinds for a file it cannot read
        raise UserError(f"--rewardbench {path}: not a Parquet or JSONL file ({error})") from None
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise UserError(f"--rewardbench {path}: missing columns {', '.join(missing)}")
    return frame.select(COLUMNS).to_dicts()


def ingest_rewardbench(path: Path, store: Store) -> IngestReport:
    """Prompts, answers and the `rewardbench` gold labels of a RewardBench-layout file."""
    report = IngestReport()
    prompts, candidates, labels = [], [], []
    for row in _rows(path):
        report.rows_read += 1
        if not all(isinstance(row[c], str) and row[c].strip() for c in COLUMNS):
            report.rejects_by_reason["missing_text"] += 1
            continue
        subset = row["subset"]
        prompt = Prompt(
            messages=[{"role": "user", "content": row["prompt"]}],
            source=f"rewardbench:{subset}",
            metadata={"subset": subset},
        )
        chosen = Candidate(prompt.prompt_id, row["chosen"], "rewardbench:chosen")
        rejected = Candidate(prompt.prompt_id, row["rejected"], "rewardbench:rejected")
        if chosen.candidate_id == rejected.candidate_id:
            report.rejects_by_reason["identical_answers"] += 1
            continue
        prompts.append(prompt)
        candidates += [chosen, rejected]
        ids = [chosen.candidate_id, rejected.candidate_id]
        labels.append(Label(GOLD, "file", "pairwise", prompt.prompt_id, ids, [1.0, 0.0]))
        report.rows_used += 1
    stamp = now()
    tables = {
        "prompts": [to_table("prompts", prompts, stamp)],
        "candidates": [to_table("candidates", candidates, stamp)],
        "labels": [to_table("labels", labels, stamp)],
    }
    write_tables(store, tables, report)
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
