"""Cleaning a preference build's pairs before they are written, each step counted as a drop
reason in the manifest and the card:

- `contaminated`: the prompt or an answer shares an n-gram with a benchmark set
  (`--decontaminate mt-bench,vicuna`); the matches go to `contamination.jsonl` beside the data;
- `near_duplicate`: the prompt is a near copy of another prompt kept instead (`--dedup-near`);
- PII replaced by typed placeholders (`--redact-pii`), counted per type (not a drop);
- `prompt_too_long` and `identical_after_truncation` under a tokenizer and a token budget
  (`--tokenizer PATH --max-length N`): what a trainer would see after truncation;
- `length_rebalance`: pairs whose chosen answer is the longer one, dropped until their share is at
  most `--max-length-bias X`.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from prefsmith.builders.decontamination import benchmark_index
from prefsmith.builders.near_duplicates import dropped_near_duplicates, prompt_text
from prefsmith.builders.pii import redact
from prefsmith.bundled import tokenizer_source
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store


@dataclass
class Cleaning:
    """What the cleaning did: the side table of contaminated pairs and PII counts."""

    contamination: list[dict[str, Any]] = field(default_factory=list)
    pii: Counter[str] = field(default_factory=Counter)
    near_duplicates: dict[str, str] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {}
        if self.pii:
            found["pii_redacted"] = dict(self.pii.most_common())
        if self.near_duplicates:
            found["near_duplicate_prompts"] = len(self.near_duplicates)
        return found

    def write_side_tables(self, folder: Path) -> None:
        if self.contamination:
            lines = (json.dumps(row, ensure_ascii=False) for row in self.contamination)
            (folder / "contamination.jsonl").write_text("\n".join(lines) + "\n")


def clean_pairs(
    store: Store, config: PreferenceBuildConfig, pairs: list[dict[str, Any]], drops: Counter
) -> tuple[list[dict[str, Any]], Cleaning]:
    cleaning = Cleaning()
    if config.decontaminate:
        pairs = _decontaminate(store, config, pairs, drops, cleaning)
    if config.dedup_near is not None:
        pairs = _dedup_near(store, config.dedup_near, pairs, drops, cleaning)
    if config.redact_pii:
        pairs = [_redacted(pair, cleaning.pii) for pair in pairs]
    if config.tokenizer is not None:
        pairs = _token_checks(config, pairs, drops)
    if config.max_length_bias is not None:
        pairs = _length_balanced(pairs, config.max_length_bias, drops)
    return pairs, cleaning


def _decontaminate(store, config, pairs, drops, cleaning) -> list[dict[str, Any]]:
    index = benchmark_index(store, config.decontaminate, config.ngram)
    kept = []
    for pair in pairs:
        found = {
            "prompt": set().union(*(index.matches(m["content"]) for m in pair["prompt"])),
            "chosen": index.matches(pair["chosen"]),
            "rejected": index.matches(pair["rejected"]),
        }
        if not any(found.values()):
            kept.append(pair)
            continue
        drops["contaminated"] += 1
        cleaning.contamination.append(
            {
                "prompt_id": pair["prompt_id"],
                "chosen_id": pair["chosen_id"],
                "rejected_id": pair["rejected_id"],
                "benchmark_ids": sorted(set().union(*found.values())),
                "where": [part for part, ids in found.items() if ids],
            }
        )
    return kept


def _dedup_near(store, threshold, pairs, drops, cleaning) -> list[dict[str, Any]]:
    texts = {pair["prompt_id"]: prompt_text(pair["prompt"]) for pair in pairs}
    counts = dict(
        store.scan("labels")
        .filter(pl.col("prompt_id").is_in(list(texts)))
        .group_by("prompt_id")
        .len()
        .collect()
        .iter_rows()
    )
    cleaning.near_duplicates = dropped_near_duplicates(texts, threshold, counts)
    kept = [pair for pair in pairs if pair["prompt_id"] not in cleaning.near_duplicates]
    drops["near_duplicate"] += len(pairs) - len(kept)
    return kept


def _length_balanced(pairs, ceiling: float, drops: Counter) -> list[dict[str, Any]]:
    """Drop pairs whose chosen answer is the longer one (in a seeded, stable order) until
    their share is at most `ceiling`: a dataset that does not teach "longer is better"."""
    import math

    from prefsmith.schemas.ids import hash_key

    longer = [p for p in pairs if len(p["chosen"]) > len(p["rejected"])]
    excess = len(longer) - ceiling * len(pairs)
    if excess <= 0:
        return pairs
    count = min(len(longer), math.ceil(excess / (1 - ceiling) - 1e-9))
    order = sorted(longer, key=lambda p: hash_key(f"{p['chosen_id']}|{p['rejected_id']}"))
    dropped = {id(p) for p in order[:count]}
    drops["length_rebalance"] += count
    return [p for p in pairs if id(p) not in dropped]


def _redacted(pair: dict[str, Any], counts: Counter[str]) -> dict[str, Any]:
    prompt = [{**m, "content": redact(m["content"], counts)} for m in pair["prompt"]]
    return {
        **pair,
        "prompt": prompt,
        "chosen": redact(pair["chosen"], counts),
        "rejected": redact(pair["rejected"], counts),
    }


def _token_checks(config, pairs, drops) -> list[dict[str, Any]]:
    """Pairs a trainer with this tokenizer and `max_length` can learn from."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(config.tokenizer))
    except (OSError, ValueError) as error:
        raise UserError(f"--tokenizer {config.tokenizer}: {str(error).splitlines()[0]}") from None
    kept = []
    for pair in pairs:
        reason = truncation_problem(
            tokenizer, config.max_length, pair["prompt"], pair["chosen"], pair["rejected"]
        )
        if reason is None:
            kept.append(pair)
        else:
            drops[reason] += 1
    return kept


def truncation_problem(
    tokenizer: Any, max_length: int, prompt: list[dict[str, str]] | str, chosen: str, rejected: str
) -> str | None:
    """Why a pair teaches nothing once cut to `max_length` tokens, or None: the prompt leaves
    no room for an answer (`prompt_too_long`), or the answers are the same up to the cut
    (`identical_after_truncation`)."""
    budget = max_length - len(_prompt_tokens(tokenizer, prompt))
    if budget <= 0:
        return "prompt_too_long"
    answers = [
        tokenizer(text, add_special_tokens=False)["input_ids"][:budget]
        for text in (chosen, rejected)
    ]
    return "identical_after_truncation" if answers[0] == answers[1] else None


def _prompt_tokens(tokenizer: Any, prompt: list[dict[str, str]] | str) -> list[int]:
    if isinstance(prompt, str):
        return tokenizer(prompt)["input_ids"]
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, tokenize=True)
        return list(ids["input_ids"] if hasattr(ids, "keys") else ids)
    return tokenizer(prompt_text(prompt))["input_ids"]
