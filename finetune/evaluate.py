"""`prefsmith eval`: how the tuned policy behaves on held-out prompts.

    prefsmith eval reward-matching --store S --dataset hh-rip --policy models/rc-sft \\
        --rm helpful=models/rm-helpful --rm harmless=models/rm-harmless --output eval/rc
    prefsmith eval dpo --store S --dataset hh --policy models/dpo --rm models/rm --output eval/dpo

Reward matching (the reward-conditioned recipe): target rewards are drawn uniformly
in [0, 1] per dimension, written into the prompt with the dataset's own template,
answered by the policy, scored by each dimension's reward model and normalised with
the dataset's fitted normaliser; the report gives Pearson and Spearman correlation of
target and achieved, and a scatter plot per dimension. DPO: mean reward-model score
of the tuned policy's answers against the base policy's on the same prompts, and the
judge's win rate of tuned over base (pairwise, both orders; ties count half).
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import polars as pl

from prefsmith.builders.reward_prompt import Normalizer, RewardTemplate, render_prompt
from prefsmith.finetune.datasets import built_dataset
from prefsmith.finetune.sampling import PolicySampler
from prefsmith.labelers.base import Item
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store


def held_out_prompts(store: Store, dataset: str, kinds: tuple[str, ...], limit: int) -> list:
    """(prompt_id, messages) of the dataset's test split (train if it has none), in id order."""
    manifest, folder = built_dataset(store, dataset, kinds)
    split = "test" if "test" in manifest["data_files"] else "train"
    ids = pl.read_parquet(folder / manifest["data_files"][split], columns=["prompt_id"])
    wanted = sorted(set(ids["prompt_id"].to_list()))[:limit]
    prompts = dict(
        store.scan("prompts")
        .filter(pl.col("prompt_id").is_in(wanted))
        .select("prompt_id", "messages")
        .collect()
        .rows()
    )
    return [(pid, prompts[pid]) for pid in wanted if pid in prompts]


def reward_scores(model_dir: str, prompts: list, answers: list[str]) -> list[float | None]:
    from prefsmith.labelers.reward_model import RewardModelLabeler, RewardModelOptions

    labeler = RewardModelLabeler(RewardModelOptions(model=model_dir))
    labeler.load()
    items = [
        Item(pid, messages, [""], [a]) for (pid, messages), a in zip(prompts, answers, strict=True)
    ]
    labels = [
        label for i in range(0, len(items), 16) for label in labeler.label_batch(items[i : i + 16])
    ]
    return [label.scores[0] if label.scores else None for label in labels]


def _correlations(xs: list[float], ys: list[float]) -> dict[str, float | None]:
    def pearson(a: list[float], b: list[float]) -> float | None:
        n = len(a)
        if n < 3:
            return None
        ma, mb = sum(a) / n, sum(b) / n
        va = sum((x - ma) ** 2 for x in a)
        vb = sum((y - mb) ** 2 for y in b)
        if va == 0 or vb == 0:
            return None
        return sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True)) / (va * vb) ** 0.5

    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0.0] * len(values)
        for rank, index in enumerate(order):
            result[index] = float(rank)
        return result

    r, rho = pearson(xs, ys), pearson(ranks(xs), ranks(ys))
    return {"pearson": r and round(r, 4), "spearman": rho and round(rho, 4)}


def _scatter(
    path: Path, dimension: str, targets: list[float], achieved: list[float], r: Any
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(4.5, 4.5))
    axis.scatter(targets, achieved, s=14, alpha=0.7)
    axis.plot([0, 1], [0, 1], color="grey", linewidth=1, linestyle="--")
    axis.set(
        xlabel=f"target {dimension} reward",
        ylabel=f"achieved {dimension} reward",
        title=f"{dimension}: r = {r}",
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def reward_matching(
    store: Store,
    dataset: str,
    policy: str,
    reward_models: dict[str, str],
    output: Path,
    *,
    samples: int = 32,
    max_new_tokens: int = 64,
    seed: int = 0,
    device: str = "auto",
) -> dict[str, Any]:
    started = time.perf_counter()
    manifest, _ = built_dataset(store, dataset, ("reward-in-prompt",))
    dimensions = list(manifest["config"]["rewards"])
    if set(reward_models) != set(dimensions):
        raise UserError(f"--rm must name a reward model for each of {', '.join(dimensions)}")
    template = RewardTemplate(**manifest["template"])
    normalizers = {d: Normalizer(**manifest["normalization"][d]) for d in dimensions}
    prompts = held_out_prompts(store, dataset, ("reward-in-prompt",), samples)
    if not prompts:
        raise UserError(f"--dataset {dataset}: no held-out prompts found in the store")
    rng = random.Random(seed)
    chosen = [prompts[i % len(prompts)] for i in range(samples)]
    targets = [{d: round(rng.random(), template.decimals) for d in dimensions} for _ in chosen]
    texts = [render_prompt(m, t, template) for (_, m), t in zip(chosen, targets, strict=True)]
    answers = PolicySampler(policy, device=device, max_new_tokens=max_new_tokens).answers(
        texts, seed=seed
    )
    output.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {
        "command": "eval reward-matching",
        "samples": samples,
        "dimensions": {},
    }
    for d in dimensions:
        raw = reward_scores(reward_models[d], chosen, answers)
        pairs = [
            (t[d], normalizers[d](s)) for t, s in zip(targets, raw, strict=True) if s is not None
        ]
        xs, ys = [p[0] for p in pairs], [p[1] for p in pairs]
        stats = _correlations(xs, ys)
        _scatter(output / f"reward_matching_{d}.png", d, xs, ys, stats["pearson"])
        report["dimensions"][d] = {**stats, "n": len(pairs), "plot": f"reward_matching_{d}.png"}
    examples = [{"prompt": t, "answer": a} for t, a in zip(texts[:5], answers[:5], strict=True)]
    (output / "eval.json").write_text(json.dumps({**report, "examples": examples}, indent=2))
    return {**report, "output": str(output), "seconds": round(time.perf_counter() - started, 3)}


def dpo_evaluation(
    store: Store,
    dataset: str,
    policy: str,
    reward_model: str,
    output: Path,
    *,
    base: str | None = None,
    judge_endpoint: str | None = None,
    judge_model: str | None = None,
    judge_max_tokens: int = 256,
    samples: int = 16,
    max_new_tokens: int = 64,
    device: str = "auto",
) -> dict[str, Any]:
    from prefsmith.bundled import smollm2_checkpoint
    from prefsmith.finetune.win_rates import length_controlled_win_rate
    from prefsmith.labelers.registry import build_labeler

    started = time.perf_counter()
    prompts = held_out_prompts(store, dataset, ("preference",), samples)
    if not prompts:
        raise UserError(f"--dataset {dataset}: no held-out prompts found in the store")
    base = base or str(smollm2_checkpoint())
    messages = [m for _, m in prompts]
    tuned_answers = PolicySampler(policy, device=device, max_new_tokens=max_new_tokens).answers(
        messages
    )
    base_answers = PolicySampler(base, device=device, max_new_tokens=max_new_tokens).answers(
        messages
    )
    tuned_rewards = reward_scores(reward_model, prompts, tuned_answers)
    base_rewards = reward_scores(reward_model, prompts, base_answers)
    report: dict[str, Any] = {
        "command": "eval dpo",
        "prompts": len(prompts),
        "mean_reward_tuned": _mean(tuned_rewards),
        "mean_reward_base": _mean(base_rewards),
    }
    if judge_endpoint is not None:
        judge = {"endpoint": judge_endpoint, "model": judge_model, "max_tokens": judge_max_tokens}
        labeler = build_labeler("judge", {**judge, "mode": "pairwise"})
        items = [
            Item(pid, m, ["tuned", "base"], [t, b])
            for (pid, m), t, b in zip(prompts, tuned_answers, base_answers, strict=True)
        ]
        try:
            labeler.load()
            labels = labeler.label_batch(items)
        finally:
            labeler.close()
        decided = [label.scores[0] for label in labels if label.scores]
        report["judge_win_rate"] = round(sum(decided) / len(decided), 4) if decided else None
        differences = [
            len(t) - len(b)
            for label, t, b in zip(labels, tuned_answers, base_answers, strict=True)
            if label.scores
        ]
        report["judge_length_controlled_win_rate"] = length_controlled_win_rate(
            decided, differences
        )
        report["judge_decided"] = len(decided)
        report["judge_errors"] = len(labels) - len(decided)
    output.mkdir(parents=True, exist_ok=True)
    _histogram(output / "dpo_rewards.png", tuned_rewards, base_rewards)
    examples = [
        {"prompt": m[-1]["content"], "tuned": t, "base": b}
        for m, t, b in zip(messages[:5], tuned_answers[:5], base_answers[:5], strict=True)
    ]
    (output / "eval.json").write_text(json.dumps({**report, "examples": examples}, indent=2))
    return {
        **report,
        "plot": "dpo_rewards.png",
        "output": str(output),
        "seconds": round(time.perf_counter() - started, 3),
    }


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def _histogram(path: Path, tuned: list, base: list) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for values, name in ((base, "base"), (tuned, "tuned")):
        axis.hist([v for v in values if v is not None], bins=15, alpha=0.6, label=name)
    axis.set(xlabel="reward-model score", ylabel="answers", title="Tuned vs base policy")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
