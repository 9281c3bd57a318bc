"""`prefsmith train rm`: a reward model with trl's RewardTrainer on a built preference dataset.

    prefsmith train rm --store S --dataset hh --output models/rm     # bundled MiniLM, offline
    prefsmith label --store S --labeler reward_model --model models/rm

Pairs are tokenized by the `reward_model` labeler's own encoder, so training sees
exactly the inputs labeling will: long dialogues lose their oldest turns first and
keep the answer, and nothing is dropped (trl would drop pairs over `max_length`).
Accuracy on the test split is measured by loading the saved model in the labeler.
With `--margin`, each pair's label margin (the builder's `margin` column) goes to trl as
its `margin` column: the loss becomes -log σ(r_chosen - r_rejected - margin).
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prefsmith.finetune.datasets import PreferenceTriple, built_dataset, load_split
from prefsmith.finetune.datasets import preference_triples as triples_of
from prefsmith.finetune.outputs import write_run_files, write_training_pairs
from prefsmith.finetune.settings import last_checkpoint, trainer_config
from prefsmith.finetune.specs import Trainer
from prefsmith.finetune.train_log import quiet_libraries, quiet_training
from prefsmith.labelers.base import Item
from prefsmith.labelers.reward_model import (
    RewardModelLabeler,
    RewardModelOptions,
    quiet_lengths,
)
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.trainers import RewardModelTrainOptions
from prefsmith.store import Store

RM_DEFAULTS: dict[str, Any] = {
    "per_device_train_batch_size": 16,
    "learning_rate": 5e-5,
    "max_length": None,  # already cut by our encoder, answer kept
}


def _encoded(encoder: RewardModelLabeler, triples: list[PreferenceTriple]) -> tuple[dict, int]:
    columns: dict[str, list] = {"chosen_ids": [], "rejected_ids": []}
    cut = 0
    for triple in triples:
        chosen, chosen_cut = encoder.encode(triple.messages, triple.chosen)
        rejected, rejected_cut = encoder.encode(triple.messages, triple.rejected)
        columns["chosen_ids"].append(chosen)
        columns["rejected_ids"].append(rejected)
        cut += bool(chosen_cut or rejected_cut)
    return columns, cut


def margin_column(
    triples: list[PreferenceTriple], wanted: bool
) -> tuple[list[float] | None, dict[str, Any]]:
    """trl's `margin` column for the pairs (None when not wanted or no pair has a margin),
    and what the summary says of it: `margin` is "off", "on" or "none in dataset"."""
    if not wanted:
        return None, {"margin": "off"}
    margins = [t.margin if t.margin is not None else 0.0 for t in triples]
    given = sum(m != 0.0 for m in margins)
    if not given:
        return None, {"margin": "none in dataset"}
    return margins, {"margin": "on", "train_pairs_with_margin": given}


def pair_accuracy(model_dir: Path, triples: list[PreferenceTriple], max_length: int) -> dict:
    """Share of pairs whose chosen answer the model scores above the rejected one, with the
    one-sided binomial p-value against chance (0.5)."""
    labeler = RewardModelLabeler(RewardModelOptions(model=str(model_dir), max_length=max_length))
    labeler.load()
    items = [
        Item("", t.messages, [""], [answer]) for t in triples for answer in (t.chosen, t.rejected)
    ]
    labels = [
        label
        for start in range(0, len(items), 32)
        for label in labeler.label_batch(items[start : start + 32])
    ]
    wins = sum(
        labels[2 * i].scores[0] > labels[2 * i + 1].scores[0]
        for i in range(len(triples))
        if labels[2 * i].scores and labels[2 * i + 1].scores
    )
    n = len(triples)
    p_value = sum(math.comb(n, k) for k in range(wins, n + 1)) / 2**n if n else 1.0
    return {"accuracy": round(wins / n, 4) if n else None, "pairs": n, "p_value": p_value}


@dataclass
class RewardRun:
    """A `train rm` run ready to train: trl's RewardTrainer (its `train_dataset` is what trl
    trains on, `margin` column included) and what the run record needs."""

    trainer: Any
    base: str
    manifest: dict[str, Any]
    encoder: RewardModelLabeler
    test_rows: Any | None
    metrics: dict[str, Any]  # known before training: pairs, truncated, margin
    train_rows: Any = None


class RewardModelTrainer(Trainer):
    """`prefsmith train rm`: trl's RewardTrainer on pairs encoded by the `reward_model` labeler."""

    def prepare(
        self,
        store: Store,
        dataset: str,
        output: Path,
        options: RewardModelTrainOptions,
        settings: dict[str, Any] | None = None,
    ) -> RewardRun:
        """The model, the encoded pairs (with their margins under `--margin`) and trl's
        RewardTrainer over them; `settings` are trl's RewardConfig settings."""
        kinds = self.kinds
        quiet_libraries()
        manifest, _ = built_dataset(store, dataset, kinds)
        train_rows = load_split(store, dataset, "train", kinds)
        if train_rows is None or len(train_rows) == 0:
            raise UserError(f"--dataset {dataset} has no train split")
        test_rows = load_split(store, dataset, "test", kinds)
        from datasets import Dataset
        from transformers import AutoTokenizer
        from trl import RewardConfig, RewardTrainer

        from prefsmith.bundled import minilm_dir

        base = options.base or str(minilm_dir())
        try:
            tokenizer = AutoTokenizer.from_pretrained(base)
            model = _fresh_reward_head(base)
        except OSError as error:
            raise UserError(f"--base {base}: cannot load ({str(error).splitlines()[0]})") from None
        # BERT-style tokenizers have no EOS; trl needs one (the separator ends a sequence there).
        tokenizer.eos_token = tokenizer.eos_token or tokenizer.sep_token
        tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
        model.config.pad_token_id = tokenizer.pad_token_id
        encoder = RewardModelLabeler(RewardModelOptions(model=base, max_length=options.max_length))
        encoder.tokenizer = quiet_lengths(tokenizer)
        triples = triples_of(train_rows)
        columns, cut = _encoded(encoder, triples)
        margins, margin_note = margin_column(triples, options.margin)
        if margins is not None:
            columns["margin"] = margins
        trainer = RewardTrainer(
            model=model,
            args=trainer_config(RewardConfig, output, RM_DEFAULTS, settings or {}),
            train_dataset=Dataset.from_dict(columns),
            processing_class=tokenizer,
        )
        metrics = {"train_pairs": len(train_rows), "train_pairs_truncated": cut, **margin_note}
        return RewardRun(trainer, base, manifest, encoder, test_rows, metrics, train_rows)

    def train(
        self,
        store: Store,
        dataset: str,
        output: Path,
        options: RewardModelTrainOptions,
        *,
        settings: dict[str, Any] | None = None,
        resume: bool = False,
    ) -> dict[str, Any]:
        """Train, save to `output`, and report test-split accuracy; returns the summary.
        (`settings` are trl's RewardConfig settings.)"""
        started = time.perf_counter()
        run = self.prepare(store, dataset, output, options, settings)
        trainer, max_length = run.trainer, options.max_length
        quiet_training(trainer, "rm")
        result = trainer.train(resume_from_checkpoint=last_checkpoint(output) if resume else None)
        trainer.save_model(str(output))
        trainer.processing_class.save_pretrained(str(output))
        trained_pairs = write_training_pairs(output, run.train_rows)
        metrics = {"train_loss": round(result.training_loss, 6), **run.metrics}
        if run.test_rows is not None and len(run.test_rows):
            evaluation = pair_accuracy(output, triples_of(run.test_rows), max_length)
            metrics.update({f"test_{k}": v for k, v in evaluation.items()})
        manifest = run.manifest
        record = write_run_files(
            output,
            command="train rm",
            trainer="RewardTrainer",
            base=run.base,
            dataset={
                "name": dataset,
                "splits": manifest["splits"],
                "kind": manifest["kind"],
                "trained_pairs": trained_pairs,
            },
            args=trainer.args,
            metrics=metrics,
            usage=f"prefsmith label --labeler reward_model --model {output} --max-length {max_length}",
            description="A reward model: one logit, higher for the preferred answer. Input format "
            f"`{run.encoder.input_format}` (what the `reward_model` labeler picks for it by "
            "default).",
            tags=["reward-model"],
        )
        return {
            "command": "train rm",
            "output": str(output),
            **record["metrics"],
            "seconds": round(time.perf_counter() - started, 3),
        }


def _fresh_reward_head(base: str) -> Any:
    """The encoder with a new one-logit head. transformers reports that head as missing
    weights (a table in the log); prefsmith adds it on purpose, so only weights missing
    from the encoder itself are worth a line."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=1, output_loading_info=True
        )
    finally:
        hf_logging.set_verbosity(verbosity)
    body = model.base_model_prefix + "."  # the encoder; the head lies outside it
    odd = sorted({k for k in info["missing_keys"] if k.startswith(body)})
    odd += sorted(info["unexpected_keys"])
    if odd:
        print(
            f"train rm: {base}: {len(odd)} encoder weights not in the checkpoint "
            f"(e.g. {odd[0]}), trained from scratch",
            file=sys.stderr,
        )
    return model
