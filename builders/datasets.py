"""Building datasets from the store: preference pairs, reward-model pairs, reward-in-prompt.

Reads labels, prompts and candidates with polars, picks rows with the pure
logic of `schemas/` and hands them to `dataset_files.write_dataset`.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import polars as pl

from prefsmith.builders.cleaning import clean_pairs
from prefsmith.builders.dataset_files import write_dataset
from prefsmith.builders.formats import COMPLETION_ROWS, PAIR_ROWS, kto_rows
from prefsmith.builders.pairs import choose_pairs, opinions_from_labels
from prefsmith.builders.reward_prompt import Normalizer, RewardTemplate, render_prompt
from prefsmith.builders.splits import split_of
from prefsmith.schemas.builds import PreferenceBuildConfig, RewardInPromptBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.formats import ROW_FORMATS
from prefsmith.store import Store
from prefsmith.store.labeler_records import labeler_record
from prefsmith.store.queries import candidates_of_origins, labels_of, texts_by_ids


def build_preference(store: Store, config: PreferenceBuildConfig) -> dict[str, Any]:
    """Preference pairs (or RM pairs with `format: rm-pairs`) from one or more labelers."""
    started = time.perf_counter()
    sources, opinions, drops = [], [], Counter()
    allowed = candidates_of_origins(store, config.origins) if config.origins else None
    for spec in config.from_labelers:
        name, fingerprint, labels, stale = labels_of(store, spec)
        if allowed is not None:
            labels = [label for label in labels if set(label["candidate_ids"]) <= allowed]
        opinions.append(opinions_from_labels(name, labels))
        sources.append(
            {
                "labeler": name,
                "fingerprint": fingerprint,
                "labels": len(labels),
                "kind": opinions[-1].kind,
            }
        )
        if stale:
            drops["stale_fingerprint"] += stale
    first = sources[0]
    verifier = (labeler_record(store, first["labeler"], first["fingerprint"]) or {}).get("parts")
    combine = config.combine or ("first" if (verifier or {}).get("check") else "agree")
    choices, pair_drops = choose_pairs(
        opinions,
        mode=config.pairs,
        combine=combine,
        weights=config.weights,
        min_margin=config.min_margin,
        quantile=config.quantile,
    )
    drops.update(pair_drops)
    prompts, candidates = texts_by_ids(
        store,
        {c.prompt_id for c in choices},
        {i for c in choices for i in (c.chosen_id, c.rejected_id)},
    )
    pairs = []
    for choice in choices:
        if (
            choice.prompt_id not in prompts
            or choice.chosen_id not in candidates
            or choice.rejected_id not in candidates
        ):
            drops["missing_text"] += 1
            continue
        (chosen, _), (rejected, _) = candidates[choice.chosen_id], candidates[choice.rejected_id]
        if chosen.strip() == rejected.strip():
            drops["same_content"] += 1
            continue
        pairs.append(
            {
                "prompt_id": choice.prompt_id,
                "prompt": prompts[choice.prompt_id],
                "chosen_id": choice.chosen_id,
                "chosen": chosen,
                "rejected_id": choice.rejected_id,
                "rejected": rejected,
                "margin": choice.margin,
            }
        )
    pairs, cleaning = clean_pairs(store, config, pairs, drops)
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in config.splits}
    longer = sum(len(pair["chosen"]) > len(pair["rejected"]) for pair in pairs)
    if config.format == "kto":
        if config.kto_threshold is not None and opinions[0].kind != "score":
            raise UserError(f"--kto-threshold needs a score labeler first; {sources[0]['labeler']} "
                            f"gives {opinions[0].kind} labels")  # fmt: skip
        first_scores = {c: v for scored in opinions[0].scores.values() for c, v in scored.items()}
        unpaired, drops["undecided_kto_label"] = kto_rows(pairs, first_scores, config.kto_threshold)
        drops += Counter()  # a zero count is not a drop
        for row in unpaired:
            rows[split_of(row["prompt_id"], config.splits, config.seed)].append(row)
    for pair in pairs if config.format != "kto" else ():
        row = PAIR_ROWS[config.format](pair)
        rows[split_of(pair["prompt_id"], config.splits, config.seed)].append(row)
    kept = sum(map(len, rows.values()))
    if kept == 0:
        raise UserError(
            f"no pairs left to build {config.name!r} (dropped: {dict(drops) or 'nothing to pair'})"
        )
    summary = {
        "command": "build preference",
        "name": config.name,
        "rows": kept,
        "splits": {split: len(items) for split, items in rows.items()},
        "drops": dict(drops.most_common()),
        "length_bias": round(longer / len(pairs), 4),
        "labelers": sources,
        "combine": combine,
        **cleaning.summary(),
    }
    kind = ROW_FORMATS[config.format].kind or "preference"
    path = write_dataset(
        store, config, kind, rows, summary, label_sources=sources, manifest_extra=cleaning.summary()
    )
    cleaning.write_side_tables(path)
    return {**summary, "path": str(path), "seconds": round(time.perf_counter() - started, 3)}


def build_reward_in_prompt(store: Store, config: RewardInPromptBuildConfig) -> dict[str, Any]:
    """One row per candidate scored by every reward labeler: rewards rendered into the prompt."""
    started = time.perf_counter()
    rewards: dict[str, dict[str, float]] = {}  # candidate -> dimension -> raw score
    sources, drops = [], Counter()
    for dimension, spec in config.rewards.items():
        name, fingerprint, labels, stale = labels_of(store, spec)
        if any(label["kind"] != "score" for label in labels):
            raise UserError(f"--rewards {dimension}={spec}: reward-in-prompt needs score labels")
        sources.append(
            {
                "dimension": dimension,
                "labeler": name,
                "fingerprint": fingerprint,
                "labels": len(labels),
            }
        )
        drops["stale_fingerprint"] += stale
        for label in labels:
            if label["error"] or not label["scores"]:
                drops["label_error"] += 1
                continue
            rewards.setdefault(label["candidate_ids"][0], {})[dimension] = label["scores"][0]
    dimensions = list(config.rewards)
    complete = {cid: r for cid, r in rewards.items() if len(r) == len(dimensions)}
    drops["missing_dimension"] += len(rewards) - len(complete)
    candidate_rows = (
        store.scan("candidates")
        .filter(pl.col("candidate_id").is_in(list(complete)))
        .select("candidate_id", "prompt_id", "content")
        .collect()
        .rows()
    )
    prompts, _ = texts_by_ids(store, {row[1] for row in candidate_rows}, set())
    placed = [
        (cid, pid, text, split_of(pid, config.splits, config.seed))
        for cid, pid, text in candidate_rows
        if pid in prompts
    ]
    train = [cid for cid, _, _, split in placed if split == next(iter(config.splits))]
    normalizers = {
        d: Normalizer.fit(config.normalize, [complete[cid][d] for cid in train]) for d in dimensions
    }
    template = RewardTemplate(config.open_tag, config.start_tag, config.line, config.decimals)
    rows: dict[str, list[dict[str, Any]]] = {split: [] for split in config.splits}
    for cid, pid, text, split in placed:
        values = {d: normalizers[d](complete[cid][d]) for d in dimensions}
        prompt = render_prompt(prompts[pid], values, template)
        rows[split].append(
            COMPLETION_ROWS[config.format](prompt, text, {"prompt_id": pid, "candidate_id": cid})
        )
    summary = {
        "command": "build reward-in-prompt",
        "name": config.name,
        "rows": len(placed),
        "splits": {split: len(items) for split, items in rows.items()},
        "drops": {k: v for k, v in drops.most_common() if v},
        "labelers": sources,
    }
    extra = {
        "normalization": {d: n.to_dict() for d, n in normalizers.items()},
        "template": template.__dict__,
    }
    path = write_dataset(
        store,
        config,
        "reward-in-prompt",
        rows,
        summary,
        label_sources=sources,
        manifest_extra=extra,
    )
    return {**summary, "path": str(path), "seconds": round(time.perf_counter() - started, 3)}
