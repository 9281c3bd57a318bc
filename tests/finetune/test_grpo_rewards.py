"""trl's GRPOTrainer for two CPU steps on the tiny random chat model, rewarded by prefsmith
labelers through `reward_function`: a verifier, and a reward model `prefsmith train rm` made.
The rewards trl logs are the ones the function returned, and they land in the store."""

import math

import pytest

from prefsmith.finetune.registry import TRAINERS
from prefsmith.rewards import reward_function
from prefsmith.schemas.trainers import RewardModelTrainOptions
from prefsmith.store import Store

pytestmark = pytest.mark.slow
PER_STEP = 4  # completions a step scores: 2 prompts x 2 generations


class Recorded:
    """A reward function that keeps what trl passed it and what it returned."""

    def __init__(self, reward):
        self.reward, self.__name__, self.calls = reward, reward.__name__, []

    def __call__(self, prompts, completions, **kwargs):
        rewards = self.reward(prompts, completions, **kwargs)
        self.calls.append({"n": (len(prompts), len(completions)), "kwargs": set(kwargs),
                           "completions": completions, "rewards": rewards})  # fmt: skip
        return rewards


def grpo(model_dir, dataset, reward, output):
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(output), max_steps=2, per_device_train_batch_size=PER_STEP,
        num_generations=2, max_completion_length=8, learning_rate=1e-2, logging_steps=1,
        save_strategy="no", report_to="none", use_cpu=True, seed=0,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=str(model_dir),
        args=args,
        train_dataset=Dataset.from_list(dataset),
        reward_funcs=[reward],
    )
    trainer.train()
    return trainer


def assert_two_rewarded_steps(trainer, recorded, columns):
    assert trainer.state.global_step == 2
    assert [call["n"] for call in recorded.calls] == [(PER_STEP, PER_STEP)] * 2
    for call in recorded.calls:
        assert {"completion_ids", "trainer_state", *columns} <= call["kwargs"]
    logged = [row for row in trainer.state.log_history if "reward" in row]
    assert len(logged) == 2
    for row, call in zip(logged, recorded.calls, strict=True):
        scored = [r for r in call["rewards"] if r is not None]
        mean = row[f"rewards/{recorded.__name__}/mean"]
        assert mean == pytest.approx(sum(scored) / len(scored), abs=1e-5)
        assert math.isfinite(row["loss"])


def assert_stored(store, recorded, labeler):
    """Each distinct scored answer is one label under the labeler's fingerprint, with its
    candidate stored as `online:NAME`."""
    recorded.reward.close()  # the end of training: what is unwritten is written
    answers = {
        completion[0]["content"].strip()
        for call in recorded.calls
        for completion, reward in zip(call["completions"], call["rewards"], strict=True)
        if reward is not None
    }
    labels = Store(store).scan("labels").collect()
    assert set(labels["fingerprint"]) == {labeler.fingerprint()}
    candidates = Store(store).scan("candidates").collect()
    assert set(candidates["origin"]) == {f"online:{labeler.name}"}
    assert {c.strip() for c in candidates["content"]} == answers
    assert labels.height == candidates.height  # one question per answer, asked once


def test_grpo_with_the_math_verifier(tiny_chat_model, tmp_path):
    pytest.importorskip("math_verify")
    dataset = [
        {"prompt": [{"role": "user", "content": f"What is {i} + {i}?"}], "answer": str(2 * i)}
        for i in range(3)
    ] + [{"prompt": [{"role": "user", "content": "Say hello."}], "answer": None}]
    recorded = Recorded(reward_function("verify-math", store=tmp_path / "online"))
    trainer = grpo(tiny_chat_model, dataset, recorded, tmp_path / "grpo")
    assert recorded.__name__ == "reward_verify_math"
    assert_two_rewarded_steps(trainer, recorded, {"answer"})
    rewards = [r for call in recorded.calls for r in call["rewards"]]
    assert rewards.count(None) == 2  # the question without an answer, twice: no reward
    assert set(rewards) <= {0.0, 1.0, None}
    assert_stored(tmp_path / "online", recorded, recorded.reward.labeler)


def test_grpo_with_a_reward_model_prefsmith_trained(
    hh_datasets, tiny_encoder, tiny_chat_model, tmp_path
):
    rm = tmp_path / "rm"
    settings = {"max_steps": 2, "logging_steps": 1, "save_steps": 1, "learning_rate": 1e-2}
    options = RewardModelTrainOptions(base=str(tiny_encoder), max_length=128)
    TRAINERS["rm"].train(hh_datasets, "hh", rm, options, settings=settings)
    dataset = [
        {"prompt": [{"role": "user", "content": text}], "topic": topic}
        for text, topic in [("Tell me a joke.", "fun"), ("How do I boil an egg?", "food"),
                            ("Name a color.", "art"), ("Why is the sky blue?", "science")]
    ]  # fmt: skip
    spec = f"reward_model:model={rm},max_length=128,device=cpu"
    recorded = Recorded(reward_function(spec, store=tmp_path / "online"))
    trainer = grpo(tiny_chat_model, dataset, recorded, tmp_path / "grpo")
    assert recorded.__name__ == "reward_reward_model"
    assert_two_rewarded_steps(trainer, recorded, {"topic"})
    rewards = [r for call in recorded.calls for r in call["rewards"]]
    assert None not in rewards and len(set(rewards)) > 1  # a real model's scores
    assert_stored(tmp_path / "online", recorded, recorded.reward.labeler)
