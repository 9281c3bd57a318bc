"""A few CPU steps of each trainer on tiny models built in fixtures: the weights change, the
loss is finite, the output loads (the reward model in the `reward_model` labeler), and the run
folder holds its config, metrics and card."""

import json
import math

import polars as pl
import pytest
import torch
from safetensors.torch import load_file

from prefsmith.finetune.datasets import load_split
from prefsmith.finetune.policy import policy_trainer
from prefsmith.finetune.registry import TRAINERS
from prefsmith.finetune.settings import trainer_config
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.report.labeler_eval import evaluate_labelers
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.settings_text import parse_assignments
from prefsmith.schemas.trainers import PolicyTrainOptions, RewardModelTrainOptions

STEPS = {"max_steps": 2, "logging_steps": 1, "save_steps": 1}
TINY_POLICY = {
    **STEPS,
    "learning_rate": 1e-2,
    "per_device_train_batch_size": 2,
    "gradient_accumulation_steps": 1,
}


def weights_changed(before_dir, after_dir) -> bool:
    before, after = (
        load_file(before_dir / "model.safetensors"),
        load_file(after_dir / "model.safetensors"),
    )
    shared = [k for k in after if k in before and before[k].shape == after[k].shape]
    return bool(shared) and any(not torch.equal(before[k], after[k]) for k in shared)


def assert_run_folder(output, command):
    record = json.loads((output / "prefsmith-train.json").read_text())
    assert record["command"] == command and record["settings"]["max_steps"] == 2
    assert math.isfinite(record["metrics"]["train_loss"])
    assert json.loads((output / "training_args.json").read_text())["max_steps"] == 2
    assert "## Results" in (output / "README.md").read_text()
    assert list(output.glob("checkpoint-*"))  # kept for --resume


@pytest.mark.slow
def test_reward_model_trains_and_the_labeler_loads_it(hh_datasets, tiny_encoder, tmp_path):
    output = tmp_path / "rm"
    options = RewardModelTrainOptions(base=str(tiny_encoder), max_length=128)
    summary = TRAINERS["rm"].train(
        hh_datasets,
        "hh",
        output,
        options,
        settings={**STEPS, "learning_rate": 1e-2},
    )
    assert math.isfinite(summary["train_loss"]) and summary["train_pairs"] > 0
    assert summary["train_pairs_truncated"] > 0  # long hh dialogues were cut, not dropped
    assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["test_pairs"] > 0
    assert_run_folder(output, "train rm")
    from transformers import AutoModelForSequenceClassification

    before = AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=1)
    after = AutoModelForSequenceClassification.from_pretrained(output)
    body = {k: v for k, v in before.state_dict().items() if k.startswith("bert.encoder")}
    assert any(not torch.equal(v, after.state_dict()[k]) for k, v in body.items())
    labeler = build_labeler("reward_model", {"model": str(output), "max_length": 128})
    result = run_labeler(hh_datasets, labeler)
    assert result["labeled"] > 0 and result["errors"] == 0
    # It is never scored on the pairs it was trained on: they are `in_training`, apart.
    trained = pl.read_parquet(output / "training-pairs.parquet")
    assert (
        trained.height
        == summary["train_pairs"]
        == len(load_split(hh_datasets, "hh", "train", ("preference",)))
    )
    report = evaluate_labelers(hh_datasets, "human:hh-rlhf", ["reward_model"])
    figures = report["labelers"]["reward_model"]
    assert figures["in_training"] == trained.height
    assert 0 < figures["n"] <= report["gold_pairs"] - trained.height
    # A panel on top of it has seen those pairs too, through its member.
    panel = build_labeler("panel", {"members": "reward_model", "gold": "human:hh-rlhf"})
    run_labeler(hh_datasets, panel)
    report = evaluate_labelers(hh_datasets, "human:hh-rlhf", ["panel"])
    assert report["labelers"]["panel"]["in_training"] == trained.height


@pytest.mark.slow
def test_dpo_trains_the_policy_and_it_loads(hh_datasets, tiny_chat_model, tmp_path):
    output = tmp_path / "dpo"
    options = PolicyTrainOptions(base=str(tiny_chat_model), max_length=128, eval_rows=2)
    summary = TRAINERS["dpo"].train(hh_datasets, "hh", output, options, settings=TINY_POLICY)
    assert _trained_max_length(output) == 128  # --max-length reaches trl's DPOConfig
    assert len(load_split(hh_datasets, "hh", "test", ("preference",))) > 2
    assert summary["test_rows"] == 2  # --eval-rows: the first two test rows, not the split
    trained = pl.read_parquet(output / "training-pairs.parquet")  # what eval leaves out
    assert trained.height == len(load_split(hh_datasets, "hh", "train", ("preference",)))
    assert math.isfinite(summary["train_loss"]) and "test_rewards_accuracies" in summary
    assert weights_changed(tiny_chat_model, output)
    assert_run_folder(output, "train dpo")
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(output)


@pytest.mark.slow
def test_dpo_with_lora_saves_a_merged_model_and_the_adapter(hh_datasets, tiny_chat_model, tmp_path):
    output = tmp_path / "dpo-lora"
    options = PolicyTrainOptions(base=str(tiny_chat_model), lora_r=4, max_length=128)
    TRAINERS["dpo"].train(
        hh_datasets,
        "hh",
        output,
        options,
        settings={**TINY_POLICY, "learning_rate": 1e-1},
    )
    assert (output / "adapter" / "adapter_config.json").is_file()
    assert weights_changed(tiny_chat_model, output)


@pytest.mark.slow
def test_reward_conditioned_sft_learns_only_from_the_completion(
    hh_datasets, tiny_chat_model, tmp_path
):
    overrides = {**TINY_POLICY, "max_length": 256}
    trainer, _ = policy_trainer(
        TRAINERS["sft"],
        hh_datasets,
        "hh-rip",
        tmp_path / "probe",
        policy=str(tiny_chat_model),
        overrides=overrides,
    )
    labels = trainer.train_dataset[0]["labels"]
    masked = next(i for i, label in enumerate(labels) if label != -100)
    prompt = load_split(hh_datasets, "hh-rip", "train", ("reward-in-prompt",))[0]["prompt"]
    prompt_tokens = len(trainer.processing_class(prompt)["input_ids"])
    assert prompt.endswith("<SOS>") and abs(masked - prompt_tokens) <= 1  # the prompt is masked
    assert all(label != -100 for label in labels[masked:])  # the completion is learned

    output = tmp_path / "sft"
    options = PolicyTrainOptions(base=str(tiny_chat_model))
    summary = TRAINERS["sft"].train(hh_datasets, "hh-rip", output, options, settings=overrides)
    assert math.isfinite(summary["train_loss"]) and math.isfinite(summary["test_loss"])
    assert weights_changed(tiny_chat_model, output)
    record = json.loads((output / "prefsmith-train.json").read_text())
    assert record["dataset"]["template"]["open_tag"] == "<REWARD>"  # eval renders prompts alike


def test_settings_are_trl_configs_and_unknown_keys_name_themselves(tmp_path):
    from trl import DPOConfig

    args = trainer_config(
        DPOConfig, tmp_path, {"beta": 0.1}, parse_assignments(["beta=0.3", "loss_type=[ipo]"])
    )
    assert args.beta == 0.3 and args.loss_type == ["ipo"] and args.use_cpu is True
    # YAML 1.2 files keep `no` as a word: a bool setting still reads it as false; an old name
    # reaches the setting transformers 5 renamed it to
    args = trainer_config(
        DPOConfig,
        tmp_path,
        {},
        {"bf16": "no", "gradient_checkpointing": True, "eval_strategy": "no"},
    )
    assert args.bf16 is False and args.activation_checkpointing is True
    assert args.eval_strategy == "no"
    with pytest.raises(UserError, match="DPOConfig has no setting 'betta'"):
        trainer_config(DPOConfig, tmp_path, {}, {"betta": 0.3})
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_assignments(["beta"])


def test_wrong_dataset_kinds_are_one_clear_line(hh_datasets, tmp_path):
    with pytest.raises(UserError, match="hh-rip is a reward-in-prompt dataset"):
        TRAINERS["dpo"].train(hh_datasets, "hh-rip", tmp_path / "x", PolicyTrainOptions())
    with pytest.raises(UserError, match="no dataset 'nope'"):
        TRAINERS["rm"].train(hh_datasets, "nope", tmp_path / "x", RewardModelTrainOptions())


def _trained_max_length(output) -> int:
    """The max_length trl trained with, from the run record's trl arguments."""
    return json.loads((output / "training_args.json").read_text())["max_length"]
