"""Benchmark decontamination: a pair is contaminated when its prompt or either answer shares a
word n-gram (13 by default, after lower-casing and dropping punctuation and extra whitespace)
with a benchmark prompt or reference answer. A benchmark text shorter than n words matches
when it appears whole; one under 8 words ("No.", a bare number) is too common to count.

A benchmark SET is a prompt set in the store, by its source name as `prefsmith status` shows
it, a JSONL file of prompts (MT-Bench's `turns`, or `prompt`, `question`, `instruction`,
`text`, `messages`, with `reference` answers), or a benchmark prefsmith bundles, by name
(`mt-bench` with its reference answers, `vicuna`), with or without an ingest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import BUNDLED_BENCHMARKS
from prefsmith.schemas.records import load_json
from prefsmith.store import Store, load_manifest

DEFAULT_NGRAM = 13
MIN_WORDS = 8  # a shorter benchmark text ("No.", "Washington, DC") is too common to count
_WORD = re.compile(r"\w+")
TEXT_FIELDS = ("turns", "prompt", "question", "instruction", "text", "input", "reference")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


@dataclass
class BenchmarkIndex:
    """Every n-gram of a set of benchmark texts, with the ids of the texts that hold it."""

    n: int = DEFAULT_NGRAM
    grams: dict[str, set[str]] = field(default_factory=dict)
    short: list[tuple[str, str]] = field(default_factory=list)  # (id, whole text) under n words

    def add(self, benchmark_id: str, text: str) -> None:
        tokens = words(text)
        if len(tokens) < self.n:
            if len(tokens) >= min(MIN_WORDS, self.n):
                self.short.append((benchmark_id, " ".join(tokens)))
            return
        for i in range(len(tokens) - self.n + 1):
            self.grams.setdefault(" ".join(tokens[i : i + self.n]), set()).add(benchmark_id)

    def matches(self, text: str) -> set[str]:
        """Ids of the benchmark texts `text` shares an n-gram with (or holds whole)."""
        tokens = words(text)
        found: set[str] = set()
        for i in range(len(tokens) - self.n + 1):
            found |= self.grams.get(" ".join(tokens[i : i + self.n]), set())
        if self.short:
            joined = f" {' '.join(tokens)} "
            found |= {bid for bid, whole in self.short if f" {whole} " in joined}
        return found

    def __len__(self) -> int:
        return len({b for ids in self.grams.values() for b in ids} | {b for b, _ in self.short})


def _file_texts(path: Path, name: str | None = None) -> Iterator[tuple[str, str]]:
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            raise UserError(f"{path}:{number}: not a JSON line") from None
        key = record.get("question_id", record.get("id", number))
        for text in _texts_of(record):
            yield f"{name or path.stem}:{key}", text


def _texts_of(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _texts_of(item.get("content") if isinstance(item, dict) else item)
    elif isinstance(value, dict):
        for name in (*TEXT_FIELDS, "messages", "choices"):
            if name in value:
                yield from _texts_of(value[name])


def _store_texts(store: Store, source: str) -> Iterator[tuple[str, str]]:
    prompts = (
        store.scan("prompts")
        .filter((pl.col("source") == source) | pl.col("source").str.starts_with(f"{source}:"))
        .select("prompt_id", "messages", "reference", "metadata")
        .collect()
    )
    for prompt_id, messages, reference, metadata in prompts.iter_rows():
        meta = load_json(metadata) or {}
        key = meta.get("source_id", meta.get("question_id", prompt_id))
        for message in messages:
            yield f"{source}:{key}", message["content"]
        if reference:
            yield f"{source}:{key}", reference


def benchmark_index(store: Store, sets: Iterable[str], n: int = DEFAULT_NGRAM) -> BenchmarkIndex:
    """The n-grams of every benchmark set (store source names or files)."""
    index = BenchmarkIndex(n)
    known = set(store.scan("prompts").select("source").unique().collect()["source"].to_list())
    for spec in sets:
        if Path(spec).is_file():
            texts = list(_file_texts(Path(spec)))
        elif any(s == spec or s.startswith(f"{spec}:") for s in known):
            texts = list(_store_texts(store, spec))
        elif spec in BUNDLED_BENCHMARKS:
            texts = [t for path in BUNDLED_BENCHMARKS[spec] for t in _file_texts(path, spec)]
        else:
            raise UserError(
                f"--decontaminate {spec}: neither a file, a bundled benchmark "
                f"({', '.join(BUNDLED_BENCHMARKS)}) nor a prompt source in the store "
                f"(sources: {', '.join(sorted(known)) or 'none'})"
            )
        for benchmark_id, text in texts:
            index.add(benchmark_id, text)
    return index


def _row_texts(row: dict[str, Any]) -> dict[str, list[str]]:
    """The prompt and answer texts of a dataset row, whatever its format."""
    parts: dict[str, list[str]] = {"prompt": [], "chosen": [], "rejected": [], "completion": []}
    for name, value in row.items():
        part = name if name in parts else "prompt" if name == "messages" else None
        if part is not None:
            parts[part] += list(_texts_of(value))
    return parts


def check_dataset(store: Store, dataset: str, sets: list[str], n: int = DEFAULT_NGRAM) -> dict:
    """How much of a built dataset overlaps the benchmark sets, without building anything."""
    manifest = load_manifest(store, dataset)
    index = benchmark_index(store, sets, n)
    folder = store.root / "datasets" / dataset
    hits: dict[str, int] = {}
    by_benchmark: dict[str, int] = {}
    rows = 0
    for split, relative in sorted(manifest["data_files"].items()):
        for row in pl.read_parquet(folder / relative).iter_rows(named=True):
            rows += 1
            found: set[str] = set()
            for texts in _row_texts(row).values():
                for text in texts:
                    found |= index.matches(text)
            if found:
                hits[split] = hits.get(split, 0) + 1
                for benchmark_id in found:
                    by_benchmark[benchmark_id] = by_benchmark.get(benchmark_id, 0) + 1
    return {
        "command": "check contamination",
        "dataset": dataset,
        "against": sets,
        "ngram": n,
        "benchmark_texts": len(index),
        "rows": rows,
        "contaminated": sum(hits.values()),
        "contaminated_by_split": hits,
        "benchmark_ids": dict(sorted(by_benchmark.items(), key=lambda kv: -kv[1])),
    }
