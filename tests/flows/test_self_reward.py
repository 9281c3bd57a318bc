"""The self-rewarding loop for real, on a tiny random Llama that can grade (tests/tiny_judge.py):
two iterations chain their policies, DPO changes the weights, pairs never repeat an answer,
a rerun does no new work and a killed iteration resumes from what its store holds."""

import math
import shutil
from pathlib import Path

import polars as pl
import pytest
import torch
import yaml
from safetensors.torch import load_file
from tiny_judge import make_tiny_judge

from prefsmith.ingest.prompt_sets import check_prompt_source, ingest_prompt_rows
from prefsmith.ingest.sources import iter_file
from prefsmith.schemas.config import IngestStage
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.self_reward import SelfRewardConfig
from prefsmith.store import Store

CONFIG = Path(__file__).parents[2] / "configs" / "self_reward.yaml"
MT_BENCH = Path(__file__).parents[1] / "data" / "mt_bench_questions_18.jsonl"
TINY = {
    "iterations": 2,
    "prompts": 3,
    "n": 3,
    "max_tokens": 8,
    "settings": {"max_steps": 2, "learning_rate": 1e-3, "max_length": 128},
    "batch_size": 4,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def tiny_judge(tiny_chat_model, tmp_path_factory):
    return make_tiny_judge(tiny_chat_model, tmp_path_factory.mktemp("tiny-judge"))


def weights_changed(before: Path, after: Path) -> bool:
    old, new = load_file(before / "model.safetensors"), load_file(after / "model.safetensors")
    return any(not torch.equal(old[k], new[k]) for k in old if k in new)


def files_of(root: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def test_the_shipped_config_is_valid():
    config = yaml.safe_load(CONFIG.read_text())
    assert set(config) == {"store", "ingest", "self_reward"}
    IngestStage.model_validate(config["ingest"])
    assert SelfRewardConfig.model_validate(config["self_reward"]).iterations == 2


@pytest.mark.slow
@pytest.mark.prefect
def test_two_iterations_chain_policies_and_a_rerun_does_no_new_work(store_dir, tiny_judge):
    from prefsmith.flows.self_reward import self_reward

    store = Store(store_dir)
    source, plan = check_prompt_source(source=str(MT_BENCH), format="mt-bench").files[0]
    ingest_prompt_rows(iter_file(source), store, plan, source_key="k", source_name="mt")
    run = {"policy": str(tiny_judge), **TINY}
    result = self_reward(str(store_dir), run)
    assert result["command"] == "self-reward" and result["seconds"] > 0
    first, second = result["iterations"]
    assert (first["policy_in"], second["policy_in"]) == (str(tiny_judge), first["model_out"])
    assert first["policy_in_id"] != second["policy_in_id"]  # new weights, new identity
    assert weights_changed(tiny_judge, Path(first["model_out"]))
    assert weights_changed(Path(first["model_out"]), Path(second["model_out"]))
    prompts_seen = []
    for record in result["iterations"]:
        assert record["cached"] is False and record["candidates"] == record["scored"] == 9
        assert sum(record["score_histogram"].values()) == 9 and 1 <= record["mean_score"] <= 5
        assert record["pairs"] >= 1 and math.isfinite(record["train_loss"])
        assert "train_rewards_accuracies" in record and record["steps_seconds"]["train"] > 0
        sub = Store(record["store"])
        origins = set(sub.scan("candidates").collect()["origin"])
        assert origins == {
            f"generate:{record['policy_in_id']}?max_tokens=8&temperature=0.8&top_p=0.95"
        }
        pairs = pl.read_parquet(Path(record["dataset_path"]) / "data" / "*.parquet")
        assert pairs.height == record["pairs"] and record["dataset"].endswith(
            f"iter-{record['iteration']}"
        )
        for row in pairs.to_dicts():
            assert row["chosen_id"] != row["rejected_id"]
            assert row["chosen"][0]["content"].strip() != row["rejected"][0]["content"].strip()
        prompts_seen.append(set(sub.scan("prompts").collect()["prompt_id"]))
    assert not prompts_seen[0] & prompts_seen[1]  # each iteration its own prompts

    before = files_of(Path(result["output"]))
    again = self_reward(str(store_dir), run)
    assert [r["cached"] for r in again["iterations"]] == [True, True]
    assert [r["model_out"] for r in again["iterations"]] == [
        first["model_out"],
        second["model_out"],
    ]
    assert files_of(Path(result["output"])) == before  # nothing generated, judged or trained

    shutil.rmtree(second["model_out"])  # killed while training iteration 2
    (Path(result["output"]) / "iter-2.json").unlink()
    resumed = self_reward(str(store_dir), run)["iterations"][1]
    assert resumed["cached"] is False and (resumed["generated"], resumed["judged"]) == (0, 0)
    assert resumed["policy_in_id"] == second["policy_in_id"] and resumed["pairs"] == second["pairs"]
    assert (Path(second["model_out"]) / "prefsmith-train.json").is_file()

    with pytest.raises(UserError, match="n: 3 -> 4"):
        self_reward(str(store_dir), {**run, "n": 4})
