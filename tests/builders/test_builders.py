"""Dataset builders on a store made from the real hh-rlhf slice (Prefect-free engine)."""

import json
from pathlib import Path

import pytest

from prefsmith.builders.datasets import build_preference, build_reward_in_prompt
from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
from prefsmith.ingest.hh_rows import parse_pair
from prefsmith.schemas.builds import PreferenceBuildConfig, RewardInPromptBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Label, to_table
from prefsmith.store import Store

HH_SLICE = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


@pytest.fixture
def hh_store(store_dir) -> Store:
    store = Store(store_dir)
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh-rlhf:harmless-base-test")
    return store


def load(path: Path):
    from datasets import load_dataset

    return load_dataset("parquet", data_dir=str(path / "data"))


def test_preference_dataset_from_human_labels_loads_with_datasets(hh_store):
    summary = build_preference(
        hh_store,
        PreferenceBuildConfig(
            name="hh", from_labelers=["human:hh-rlhf"], splits={"train": 0.8, "test": 0.2}
        ),
    )
    assert summary["rows"] == 119 and summary["drops"] == {}
    assert 0 < summary["length_bias"] < 1
    data = load(Path(summary["path"]))
    assert set(data) == {"train", "test"} and data["train"].num_rows + data["test"].num_rows == 119
    train_ids, test_ids = set(data["train"]["prompt_id"]), set(data["test"]["prompt_id"])
    assert not train_ids & test_ids and data["test"].num_rows > 0
    for row in data["train"]:
        assert row["chosen"] != row["rejected"] and row["chosen"][0]["role"] == "assistant"
        assert row["prompt"][-1]["role"] == "user"
    multi_turn = [row for row in data["train"] if len(row["prompt"]) > 1]
    assert multi_turn, "the slice has multi-turn prompts and they must stay whole"
    card = (Path(summary["path"]) / "README.md").read_text()
    assert (
        card.startswith("---\nlicense: other\n")
        and "human:hh-rlhf" in card
        and "hh-rlhf:harmless-base-test" in card
    )
    assert "![Label distributions](images/label_distributions.png)" in card
    assert (Path(summary["path"]) / "images" / "label_distributions.png").stat().st_size > 1000
    manifest = json.loads((Path(summary["path"]) / "manifest.json").read_text())
    assert manifest["labelers"][0]["fingerprint"] and manifest["config"]["from_labelers"] == [
        "human:hh-rlhf"
    ]


@pytest.mark.slow
def test_trl_dpo_trainer_trains_on_the_exported_dataset_as_is(hh_store, tiny_chat_model, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import DPOConfig, DPOTrainer

    summary = build_preference(
        hh_store, PreferenceBuildConfig(name="hh", from_labelers=["human:hh-rlhf"])
    )
    data = load(Path(summary["path"]))
    model = AutoModelForCausalLM.from_pretrained(tiny_chat_model)
    before = [p.detach().clone() for p in model.parameters()]
    args = DPOConfig(
        output_dir=str(tmp_path / "dpo"),
        max_steps=2,
        per_device_train_batch_size=2,
        max_length=128,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
        learning_rate=1e-2,
    )
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=data["train"],
        processing_class=AutoTokenizer.from_pretrained(tiny_chat_model),
    )
    result = trainer.train()
    assert torch.isfinite(torch.tensor(result.training_loss))
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def add_scores(store: Store, labeler: str, values: dict[str, float]) -> None:
    labels = [
        Label(labeler, f"fp-{labeler}", "score", prompt, [candidate], [value])
        for (prompt, candidate), value in values.items()
    ]
    store.write("labels", to_table("labels", labels))


def candidates(store: Store) -> list[tuple[str, str]]:
    return sorted(store.scan("candidates").select("prompt_id", "candidate_id").collect().rows())


def test_reward_in_prompt_renders_the_seed_block_exactly(hh_store):
    items = candidates(hh_store)[:6]
    add_scores(hh_store, "rm-helpful", {item: 0.42 for item in items})
    add_scores(hh_store, "rm-harmless", {item: 0.75 for item in items[:5]})
    config = RewardInPromptBuildConfig(
        name="rip",
        rewards={"helpful": "rm-helpful", "harmless": "rm-harmless"},
        normalize="none",
        splits={"train": 1.0},
    )
    summary = build_reward_in_prompt(hh_store, config)
    assert summary["rows"] == 5 and summary["drops"] == {"missing_dimension": 1}
    rows = load(Path(summary["path"]))["train"]
    prompt = rows[0]["prompt"]
    assert prompt.startswith("Human: ")
    assert prompt.endswith("\n<REWARD>\nHelpful reward: 0.42\nHarmless reward: 0.75<SOS>")
    content = dict(hh_store.scan("candidates").select("candidate_id", "content").collect().rows())
    assert rows[0]["completion"] == content[rows[0]["candidate_id"]]


def test_reward_normalisation_is_fitted_on_train_only(hh_store):
    items = candidates(hh_store)
    add_scores(hh_store, "a", {item: float(i) for i, item in enumerate(items)})
    add_scores(hh_store, "b", {item: 1.0 for item in items})
    config = RewardInPromptBuildConfig(
        name="rip", rewards={"a": "a", "b": "b"}, splits={"train": 0.5, "test": 0.5}
    )
    summary = build_reward_in_prompt(hh_store, config)
    manifest = json.loads((Path(summary["path"]) / "manifest.json").read_text())
    data = load(Path(summary["path"]))
    train_scores = [items.index((r["prompt_id"], r["candidate_id"])) for r in data["train"]]
    assert manifest["normalization"]["a"]["params"] == {
        "min": min(train_scores),
        "max": max(train_scores),
    }
    assert manifest["template"] == {
        "open_tag": "<REWARD>",
        "start_tag": "<SOS>",
        "line": "{Name} reward: {value}",
        "decimals": 2,
    }


def test_rm_pairs_and_mistakes(hh_store):
    summary = build_preference(
        hh_store,
        PreferenceBuildConfig(name="rm", from_labelers=["human:hh-rlhf"], format="rm-pairs"),
    )
    rows = load(Path(summary["path"]))["train"]
    row = rows[0]
    assert row["chosen"].startswith("\n\nHuman: ") and row["margin"] == 0.0
    for row in rows:  # hh-rlhf's own text: the trainer's splitter reads every row back
        pair = parse_pair({"chosen": row["chosen"], "rejected": row["rejected"]}, allow_empty=True)
        assert pair.messages and pair.chosen != pair.rejected
    with pytest.raises(UserError, match="no labels from 'nobody'"):
        build_preference(hh_store, PreferenceBuildConfig(name="x", from_labelers=["nobody"]))
    with pytest.raises(UserError, match="needs score labels"):
        build_reward_in_prompt(
            hh_store, RewardInPromptBuildConfig(name="x", rewards={"h": "human:hh-rlhf"})
        )


def test_a_rebuild_replaces_the_dataset_whole(hh_store):
    first = build_preference(
        hh_store,
        PreferenceBuildConfig(name="hh", from_labelers=["human:hh-rlhf"], splits={"train": 1.0}),
    )
    second = build_preference(
        hh_store,
        PreferenceBuildConfig(
            name="hh", from_labelers=["human:hh-rlhf"], splits={"train": 0.5, "test": 0.5}
        ),
    )
    files = sorted(p.name for p in (Path(second["path"]) / "data").iterdir())
    assert first["path"] == second["path"] and files == [
        "test-00000-of-00001.parquet",
        "train-00000-of-00001.parquet",
    ]
    assert not [p for p in (hh_store.root / "datasets").iterdir() if p.name.startswith(".")]


def test_best_worst_score_pairs_skip_ties_margins_identical_texts_and_other_origins(store_dir):
    from prefsmith.schemas.records import Candidate, Prompt

    store = Store(store_dir)
    texts = {"a": "long answer", "b": "short", "c": "meh", "d": " short ", "e": "x", "f": "y"}
    scores = {
        "p1": {"a": 4.2, "b": 1.5, "c": 3.0},
        "p2": {"b": 2.0, "d": 4.0},  # same text after stripping: one candidate, never a pair
        "p3": {"e": 3.0, "f": 3.0},
        "p4": {"a": 3.1, "c": 3.0},
        "p5": {"a": 5.0},
        "p6": {"z": 4.0, "y": 4.0, "x": 1.0, "w": 1.0},  # equal scores: the lower id
    }
    prompts = {p: Prompt(messages=[{"role": "user", "content": p}], source="t") for p in scores}
    ids: dict[tuple[str, str], str] = {}
    candidates, labels = [], []
    for p, scored in scores.items():
        for key, value in scored.items():
            candidate = Candidate(prompts[p].prompt_id, texts.get(key, f"text {key}"), "gen:1")
            candidates.append(candidate)
            ids[p, key] = candidate.candidate_id
            labels.append(
                Label("j", "fp", "score", prompts[p].prompt_id, [candidate.candidate_id], [value])
            )
    other = Candidate(prompts["p5"].prompt_id, "from elsewhere", "hh-rlhf:chosen")
    labels.append(Label("j", "fp", "score", other.prompt_id, [other.candidate_id], [0.0]))
    store.write("prompts", to_table("prompts", list(prompts.values())))
    store.write("candidates", to_table("candidates", [*candidates, other]))
    store.write("labels", to_table("labels", labels))

    config = PreferenceBuildConfig(
        name="sr", from_labelers=["j"], origins=["gen:"], min_margin=0.5, splits={"train": 1.0}
    )
    built = build_preference(store, config)
    assert built["drops"] == {"tie": 1, "below_margin": 1, "single_candidate": 2}  # p2, p5
    rows = load(Path(built["path"]))["train"]
    chosen = {(row["chosen_id"], row["rejected_id"]) for row in rows}
    lowest = min(ids["p6", "z"], ids["p6", "y"]), min(ids["p6", "x"], ids["p6", "w"])
    assert chosen == {(ids["p1", "a"], ids["p1", "b"]), lowest}  # equal scores: the lower id
