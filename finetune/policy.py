"""`prefsmith train dpo` and `prefsmith train sft`: a policy tuned with trl.

    prefsmith train dpo --store S --dataset hh --output models/dpo [--policy ID_OR_PATH] [--lora-r 16]
    prefsmith train sft --store S --dataset hh-rip --output models/rc-sft

DPO takes a preference dataset (conversational or standard) as built; SFT takes a
prompt-completion dataset (reward-in-prompt) with the loss on the completion only.
The default policy is the bundled SmolLM2-135M-Instruct, converted once to an fp32
checkpoint (trainers refuse GGUF-loaded weights). With LoRA the adapter is merged
before saving, so the output loads with `from_pretrained` like any model (the
adapter alone is kept in OUTPUT/adapter).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefsmith.finetune.datasets import built_dataset, load_split
from prefsmith.finetune.outputs import write_run_files, write_training_pairs
from prefsmith.finetune.settings import last_checkpoint, trainer_config
from prefsmith.finetune.specs import Trainer
from prefsmith.finetune.train_log import quiet_libraries, quiet_training
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.formats import ROW_FORMATS
from prefsmith.schemas.trainers import PolicyTrainOptions
from prefsmith.store import Store

DPO_DEFAULTS: dict[str, Any] = {
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 4,
    "learning_rate": 5e-6,
    "beta": 0.1,
}
KTO_DEFAULTS: dict[str, Any] = {**DPO_DEFAULTS}
SFT_DEFAULTS: dict[str, Any] = {
    "per_device_train_batch_size": 4,
    "gradient_accumulation_steps": 2,
    "learning_rate": 2e-5,
    "completion_only_loss": True,
}


def load_policy(policy: str | None) -> tuple[Any, Any, str]:
    """Model, tokenizer and name of the policy (default: the bundled SmolLM2 checkpoint)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from prefsmith.bundled import smollm2_checkpoint

    name = policy or str(smollm2_checkpoint())
    try:
        tokenizer = AutoTokenizer.from_pretrained(name)
        model = AutoModelForCausalLM.from_pretrained(name)
    except OSError as error:
        raise UserError(f"--policy {name}: cannot load ({str(error).splitlines()[0]})") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model, tokenizer, name


def lora_config(rank: int | None) -> Any:
    if not rank:
        return None
    try:
        from peft import LoraConfig
    except ImportError:
        raise UserError("--lora-r needs peft: pip install 'prefsmith[train]'") from None
    return LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.05,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def _save(trainer: Any, tokenizer: Any, output: Path, lora: bool) -> None:
    if lora:
        trainer.model.save_pretrained(str(output / "adapter"))
        trainer.model.merge_and_unload().save_pretrained(str(output))
    else:
        trainer.save_model(str(output))
    tokenizer.save_pretrained(str(output))


def _splits(store: Store, dataset: str, trainer: Trainer):
    """The train and test splits, with the columns the dataset's row format gives a trainer."""
    method, kinds, formats = trainer.name, trainer.kinds, trainer.formats
    manifest, _ = built_dataset(store, dataset, kinds)
    fmt = manifest["config"].get("format")
    if fmt not in formats:
        raise UserError(
            f"--dataset {dataset} is in the {fmt} format; train {method} reads "
            f"{' or '.join(formats)} (rebuild it with --format {formats[0]})"
        )
    columns = list(ROW_FORMATS[fmt].columns)
    train = load_split(store, dataset, "train", kinds)
    if train is None or len(train) == 0:
        raise UserError(f"--dataset {dataset} has no train split")
    missing = sorted(set(columns) - set(train.column_names))
    if missing:
        raise UserError(f"--dataset {dataset} lacks the columns {', '.join(missing)}")
    test = load_split(store, dataset, "test", kinds)
    if test is not None:
        test = test.select_columns(columns) if len(test) else None
    return manifest, train.select_columns(columns), test


def policy_trainer(
    spec: Trainer,
    store: Store,
    dataset: str,
    output: Path,
    *,
    policy: str | None = None,
    lora_r: int | None = None,
    overrides: dict[str, Any] | None = None,
    eval_rows: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """trl's DPOTrainer, KTOTrainer or SFTTrainer, ready to train, evaluated on the first
    `eval_rows` of the test split (all by default); and what the run record needs."""
    from trl import DPOConfig, DPOTrainer, KTOConfig, KTOTrainer, SFTConfig, SFTTrainer

    quiet_libraries()

    method = spec.name
    manifest, train, test = _splits(store, dataset, spec)
    if test is not None and eval_rows is not None and eval_rows < len(test):
        test = test.select(range(eval_rows))
    model, tokenizer, name = load_policy(policy)
    config_class, trainer_class, defaults = {
        "dpo": (DPOConfig, DPOTrainer, DPO_DEFAULTS),
        "kto": (KTOConfig, KTOTrainer, KTO_DEFAULTS),
        "sft": (SFTConfig, SFTTrainer, SFT_DEFAULTS),
    }[method]
    args = trainer_config(config_class, output, defaults, overrides or {})
    dropped: dict[str, int] = {}
    if method == "dpo" and getattr(args, "max_length", None):
        train, dropped = _learnable_pairs(train, tokenizer, args.max_length)
    trainer = trainer_class(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=test,
        processing_class=tokenizer,
        peft_config=lora_config(lora_r),
    )
    quiet_training(trainer, method)
    context = {"manifest": manifest, "base": name, "tokenizer": tokenizer, "args": args}
    return trainer, {
        **context,
        "train_rows": len(train),
        "test_rows": len(test) if test is not None else 0,
        "dropped": dropped,
    }


def _learnable_pairs(train: Any, tokenizer: Any, max_length: int) -> tuple[Any, dict[str, int]]:
    """The train rows that still teach something at `max_length` tokens: a prompt that fills
    the budget, or answers identical once cut, are left out and counted."""
    from collections import Counter

    from prefsmith.builders.cleaning import truncation_problem

    reasons, keep = Counter(), []
    for index, row in enumerate(train):
        chosen, rejected = (_text(row[side]) for side in ("chosen", "rejected"))
        reason = truncation_problem(tokenizer, max_length, row["prompt"], chosen, rejected)
        if reason is None:
            keep.append(index)
        else:
            reasons[reason] += 1
    if not keep:
        raise UserError(f"no train pair fits max_length={max_length} tokens ({dict(reasons)})")
    return (train.select(keep) if reasons else train), dict(reasons)


def _text(answer: Any) -> str:
    """An answer's text: a plain string, or the content of its assistant message(s)."""
    if isinstance(answer, str):
        return answer
    return "".join(message["content"] for message in answer)


def logged_means(trainer: Any, keys: tuple[str, ...]) -> dict[str, float]:
    """The mean of trl's training-time figures (e.g. DPO's `rewards/accuracies`) over the
    logged steps, as `train_rewards_accuracies`."""
    logged = [entry for entry in trainer.state.log_history if "loss" in entry]  # not eval
    means = {}
    for key in keys:
        values = [entry[key] for entry in logged if key in entry]
        if values:
            means["train_" + key.replace("/", "_")] = round(sum(values) / len(values), 6)
    return means


def _finish(method: str, trainer: Any, context: dict, output: Path, dataset: str, **card) -> dict:
    """Evaluate on the test split, save (merged if LoRA), write the run files."""
    metrics = {"train_loss": round(context["train_loss"], 6), "train_rows": context["train_rows"]}
    metrics.update({f"dropped_{reason}": n for reason, n in context["dropped"].items()})
    if method in ("dpo", "kto"):
        metrics.update(logged_means(trainer, ("rewards/accuracies", "rewards/margins")))
    if context["test_rows"]:
        metrics["test_rows"] = context["test_rows"]
        evaluation = trainer.evaluate()
        for key in ("eval_loss", "eval_rewards/accuracies", "eval_rewards/margins"):
            if key in evaluation:
                metrics[key.replace("eval_", "test_").replace("/", "_")] = round(evaluation[key], 6)
    _save(trainer, context["tokenizer"], output, context["lora"])
    manifest = context["manifest"]
    extra = {k: manifest[k] for k in ("template", "normalization") if k in manifest}
    record = write_run_files(
        output,
        command=f"train {method}",
        trainer=type(trainer).__name__,
        base=context["base"],
        dataset={"name": dataset, "splits": manifest["splits"], "kind": manifest["kind"], **extra},
        args=context["args"],
        metrics=metrics,
        **card,
    )
    return {"command": f"train {method}", "output": str(output), **record["metrics"]}


CARDS: dict[str, dict[str, Any]] = {
    "dpo": {
        "usage": "prefsmith eval dpo --store STORE --dataset {dataset} --policy {output} --rm RM",
        "description": "A policy tuned with Direct Preference Optimization.",
        "tags": ["dpo"],
    },
    "kto": {
        "usage": "prefsmith eval dpo --store STORE --dataset PAIRS --policy {output} --rm RM",
        "description": "A policy tuned with Kahneman-Tversky Optimization on unpaired labels.",
        "tags": ["kto"],
    },
    "sft": {
        "usage": "prefsmith eval reward-matching --store STORE --dataset {dataset} "
        "--policy {output} --rm DIMENSION=RM,...",
        "description": "A reward-conditioned policy: the prompt ends with the requested rewards "
        "(the dataset's reward block), and the model answers to match them.",
        "tags": ["sft", "reward-conditioned"],
    },
}


class PolicyTrainer(Trainer):
    """`prefsmith train dpo|kto|sft`: one of trl's policy trainers, by the entry's name."""

    def train(
        self,
        store: Store,
        dataset: str,
        output: Path,
        options: PolicyTrainOptions,
        *,
        settings: dict[str, Any] | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """DPO or KTO on a preference dataset, or reward-conditioned SFT on a
        prompt-completion one (by the entry's name: dpo, kto, sft); `settings` are trl's and
        win over `options.max_length`. Returns the summary (train loss, test reward accuracy)."""
        started = time.perf_counter()
        overrides = {"max_length": options.max_length, **(settings or {})}
        method = self.name
        tuned, context = policy_trainer(
            self, store, dataset, output, policy=options.base, lora_r=options.lora_r,
            overrides=overrides, eval_rows=options.eval_rows,
        )  # fmt: skip
        result = tuned.train(resume_from_checkpoint=last_checkpoint(output) if resume else None)
        context.update(train_loss=result.training_loss, lora=bool(options.lora_r))
        # The ids of the pairs it saw, where its rows carry them (preference rows), as `train rm`.
        write_training_pairs(output, load_split(store, dataset, "train", self.kinds))
        card = {k: v.format(dataset=dataset, output=output) if isinstance(v, str) else v
                for k, v in CARDS[method].items()}  # fmt: skip
        summary = _finish(method, tuned, context, output, dataset, **card)
        return {**summary, "seconds": round(time.perf_counter() - started, 3)}
