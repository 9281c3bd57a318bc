"""`prefsmith build token-rewards`: a critic's spans as one reward per response token.

    prefsmith build token-rewards --store S --from critic --tokenizer HuggingFaceTB/SmolLM2-135M-Instruct \\
        --name hh-dense [--scalar-from rm-hh] [--positive 1 --negative -1 --threshold 0.5]

Each row carries the response's token ids under the chosen tokenizer (the response
alone, no special tokens) and a reward list exactly as long, from the spans of the
critic's label (see `builders/spans.py`); with `--scalar-from`, that labeler's score is
added to the last token's reward, as in the seed.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import polars as pl

from prefsmith.builders.dataset_files import write_dataset
from prefsmith.builders.spans import token_rewards
from prefsmith.builders.splits import split_of
from prefsmith.bundled import tokenizer_source
from prefsmith.schemas.builds import TokenRewardsBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store import Store, labels_of


def _tokenizer(name: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_source(name))
    except OSError as error:
        raise UserError(f"--tokenizer {name}: cannot load ({str(error).splitlines()[0]})") from None
    if not tokenizer.is_fast:
        raise UserError(f"--tokenizer {name}: needs a fast tokenizer (character offsets)")
    return tokenizer


def build_token_rewards(store: Store, config: TokenRewardsBuildConfig) -> dict[str, Any]:
    started = time.perf_counter()
    name, fingerprint, _, stale = labels_of(store, config.from_labeler)
    labels = (
        store.scan("labels")
        .filter((pl.col("labeler") == name) & (pl.col("fingerprint") == fingerprint))
        .select("prompt_id", "candidate_ids", "kind", "details", "error")
        .collect()
    )
    if labels.height and labels["kind"][0] != "critique":
        raise UserError(f"--from {config.from_labeler}: token rewards need critic labels")
    scalars: dict[str, float] = {}
    sources = [
        {"labeler": name, "fingerprint": fingerprint, "labels": labels.height, "kind": "critique"}
    ]
    if config.scalar_from:
        s_name, s_fp, s_labels, _ = labels_of(store, config.scalar_from)
        scalars = {lab["candidate_ids"][0]: lab["scores"][0] for lab in s_labels if lab["scores"]}
        sources.append(
            {"labeler": s_name, "fingerprint": s_fp, "labels": len(s_labels), "kind": "score"}
        )
    drops: Counter[str] = Counter({"stale_fingerprint": stale})
    usable = labels.filter(pl.col("error").is_null())
    drops["label_error"] += labels.height - usable.height
    candidate_ids = [ids[0] for ids in usable["candidate_ids"].to_list()]
    texts = dict(
        store.scan("candidates")
        .filter(pl.col("candidate_id").is_in(candidate_ids))
        .select("candidate_id", "content")
        .collect()
        .rows()
    )
    prompts = dict(
        store.scan("prompts")
        .filter(pl.col("prompt_id").is_in(usable["prompt_id"].unique().to_list()))
        .select("prompt_id", "messages")
        .collect()
        .rows()
    )
    tokenizer = _tokenizer(config.tokenizer)
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in config.splits}
    for prompt_id, (candidate_id,), details in usable.select(
        "prompt_id", "candidate_ids", "details"
    ).iter_rows():
        if config.scalar_from and candidate_id not in scalars:
            drops["missing_scalar"] += 1
            continue
        response, spans = texts[candidate_id], (load_json(details) or {}).get("spans", [])
        encoded = tokenizer(response, add_special_tokens=False, return_offsets_mapping=True)
        rewards = token_rewards(
            encoded["offset_mapping"],
            spans,
            positive=config.positive_reward_value,
            negative=config.negative_reward_value,
            threshold=config.intrinsic_reward_threshold,
        )
        scalar = scalars.get(candidate_id)
        if scalar is not None and rewards:
            rewards[-1] += scalar
        rows[split_of(prompt_id, config.splits, config.seed)].append(
            {
                "prompt": prompts[prompt_id],
                "completion": response,
                "token_ids": encoded["input_ids"],
                "token_rewards": rewards,
                "spans": spans,
                "scalar_reward": scalar,
                "prompt_id": prompt_id,
                "candidate_id": candidate_id,
            }
        )
    summary = {
        "command": "build token-rewards",
        "name": config.name,
        "rows": sum(map(len, rows.values())),
        "splits": {split: len(items) for split, items in rows.items()},
        "drops": {k: v for k, v in drops.most_common() if v},
        "labelers": sources,
    }
    path = write_dataset(
        store, config, "token-rewards", rows, summary, label_sources=sources,
        manifest_extra={"tokenizer": config.tokenizer},
    )  # fmt: skip
    return {**summary, "path": str(path), "seconds": round(time.perf_counter() - started, 3)}
