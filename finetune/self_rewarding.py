"""The self-rewarding loop's steps over the store (no Prefect here; `self_reward.py` runs them).

Every iteration k works in its own sub-store, OUTPUT/iter-k, a `Store` holding copies of
the prompts chosen for it, the policy's candidates and its judgments of them, and the
built dataset `self-reward-iter-k`: candidates of other iterations can't mix in, and the
usual commands (`prefsmith status`, `export`) work on it. The trained policy goes to
OUTPUT/models/iter-k; OUTPUT/iter-k.json, written last, records the iteration, and its
presence (with the model's run record) is what makes a rerun skip it.

    OUTPUT/                 default STORE/self-reward
      iter-1/               sub-store: prompts, candidates, labels, datasets/self-reward-iter-1
      iter-1/settings.json  the settings it was started with (a rerun must match them)
      models/iter-1/        policy 1 (trl's DPO output)
      iter-1.json           the iteration's record
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from prefsmith.builders.datasets import build_preference
from prefsmith.labelers.judge import JudgeLabeler, JudgeOptions
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.self_reward import (
    SelfRewardConfig,
    iteration_prompts,
    score_histogram,
    settings_changes,
)
from prefsmith.store import Store

JUDGE_NAME = "self-judge"
BUNDLED = "bundled"


def dataset_name(iteration: int) -> str:
    return f"self-reward-iter-{iteration}"


@dataclass(frozen=True)
class Iteration:
    """Where iteration k of a loop keeps its things."""

    root: Path
    k: int

    @property
    def store(self) -> Path:
        return self.root / f"iter-{self.k}"

    @property
    def model(self) -> Path:
        return self.root / "models" / f"iter-{self.k}"

    @property
    def record(self) -> Path:
        return self.root / f"iter-{self.k}.json"

    @property
    def settings(self) -> Path:
        return self.store / "settings.json"

    @property
    def dataset(self) -> str:
        return dataset_name(self.k)

    def trained(self) -> bool:
        return (self.model / "prefsmith-train.json").is_file()


def output_root(store: str, config: SelfRewardConfig) -> Path:
    return Path(config.output) if config.output else Path(store) / "self-reward"


def _check_settings(stored: dict[str, Any], config: SelfRewardConfig, where: Path) -> None:
    changes = settings_changes(stored, json.loads(json.dumps(config.results_key())))
    if changes:
        raise UserError(
            f"{where} was made with other settings ({'; '.join(changes)}): "
            "keep them, or set `output` to a new folder"
        )


def finished(iteration: Iteration, config: SelfRewardConfig) -> dict[str, Any] | None:
    """The record of a finished iteration (None if it must run); UserError if it was made
    with other settings."""
    if not (iteration.record.is_file() and iteration.trained()):
        return None
    record = json.loads(iteration.record.read_text())
    _check_settings(record.get("settings", {}), config, iteration.record)
    return record


def select_prompts(store: str, iteration: Iteration, config: SelfRewardConfig) -> int:
    """Copy this iteration's prompts into its sub-store (a resumed one keeps those it has)."""
    sub = Store(iteration.store)
    if iteration.settings.is_file():
        _check_settings(json.loads(iteration.settings.read_text()), config, iteration.store)
    held = sub.count("prompts")
    if held:
        return held
    main = Store(store)
    ids = main.scan("prompts").select("prompt_id").collect()["prompt_id"].to_list()
    chosen = iteration_prompts(ids, config.prompts, iteration.k, config.seed, config.rotate_prompts)
    if not chosen:
        raise UserError(f"no prompts in {store}: ingest some first (prefsmith ingest prompts)")
    rows = main.scan("prompts").filter(pl.col("prompt_id").is_in(chosen)).collect().to_arrow()
    sub.ensure_writable()
    _write_json(iteration.settings, config.results_key())
    return sub.write("prompts", rows).added


def sampling_of(config: SelfRewardConfig) -> dict[str, Any]:
    return {
        "temperature": config.temperature,
        "top_p": config.top_p,
        "max_tokens": config.max_tokens,
        "seed": config.seed,
    }


def judge_for(policy: str | None, config: SelfRewardConfig) -> JudgeLabeler:
    """The policy as its own judge (the weights' hash is in the fingerprint)."""
    options = JudgeOptions(
        name=JUDGE_NAME,
        endpoint=f"transformers:{policy or BUNDLED}",
        mode=config.judge_mode,
        template=config.judge_template,
        max_tokens=config.judge_max_tokens,
        temperature=0.0,
        structured="off",
        batch_size=config.batch_size,
    )
    return JudgeLabeler(options)


def build_pairs(iteration: Iteration, origin: str, labeler: JudgeLabeler, min_margin: float):
    """Best vs worst judged candidate of each prompt, from this iteration's candidates and
    this judge's labels only, built as the preference dataset `self-reward-iter-k` by the
    same builder as `prefsmith build preference`; plus the scores' figures."""
    sub = Store(iteration.store)
    fingerprint = labeler.fingerprint()
    labels = (
        sub.scan("labels")
        .filter((pl.col("labeler") == labeler.name) & (pl.col("fingerprint") == fingerprint))
        .select("scores", "error")
        .collect()
    )
    graded = [values[0] for values, error in labels.iter_rows() if not error and values]
    candidates = sub.scan("candidates").filter(pl.col("origin") == origin).select(pl.len())
    figures = {
        "candidates": candidates.collect().item(),
        "scored": len(graded),
        "judge_errors": labels["error"].is_not_null().sum(),
        "mean_score": round(sum(graded) / len(graded), 4) if graded else None,
        "score_histogram": score_histogram(graded),
    }
    build = PreferenceBuildConfig(
        name=iteration.dataset,
        from_labelers=[f"{labeler.name}@{fingerprint}"],
        origins=[origin],
        splits={"train": 1.0},
        min_margin=min_margin,
    )
    try:
        built = build_preference(sub, build)
    except UserError as error:
        raise UserError(
            f"iteration {iteration.k}: {error}; more candidates (n), a higher temperature "
            "or a lower min_margin may help"
        ) from None
    return {
        **figures,
        "pairs": built["rows"],
        "pair_drops": built["drops"],
        "dataset": iteration.dataset,
        "dataset_path": built["path"],
    }


def train_policy(iteration: Iteration, policy: str | None, config: SelfRewardConfig) -> dict:
    """DPO from `policy` on this iteration's pairs into OUTPUT/models/iter-k."""
    from prefsmith.finetune.registry import TRAINERS
    from prefsmith.schemas.trainers import PolicyTrainOptions

    if iteration.model.exists() and not iteration.trained():
        shutil.rmtree(iteration.model)  # a run killed while training: start it again
    return TRAINERS["dpo"].train(
        Store(iteration.store),
        iteration.dataset,
        iteration.model,
        PolicyTrainOptions(base=policy, lora_r=config.lora_r),
        settings=config.dpo_settings(),
    )


def record_iteration(iteration: Iteration, record: dict[str, Any]) -> dict[str, Any]:
    _write_json(iteration.record, record)
    return record


def _write_json(path: Path, value: Any) -> None:
    """Temp file and rename: a crash never leaves half a record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".tmp-{path.name}-{os.getpid()}-{time.time_ns()}")
    tmp.write_text(json.dumps(value, indent=2, default=str))
    os.replace(tmp, path)
