"""`train rm --margin`: a pair's label margin (a score difference, or the strength a pairwise
label keeps in `details.margin`) reaches the built rows, the Dataset trl's RewardTrainer trains
on, and trl's loss, -log σ(r_chosen - r_rejected - margin)."""

import math

import pytest
import torch

from prefsmith.builders.datasets import build_preference
from prefsmith.builders.pairs import choose_pairs, opinions_from_labels
from prefsmith.finetune.datasets import load_split, preference_triples
from prefsmith.finetune.registry import TRAINERS
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.records import Label, to_table
from prefsmith.schemas.trainers import RewardModelTrainOptions
from prefsmith.store.queries import labels_of

SPLITS = {"train": 0.8, "test": 0.2}
STEPS = {"max_steps": 2, "logging_steps": 1, "save_steps": 1, "learning_rate": 1e-2, "seed": 0}


def pairwise(prompt, a, b, scores, details=None):
    row = {"kind": "pairwise", "prompt_id": prompt, "candidate_ids": [a, b], "scores": scores}
    return {**row, "error": None, **({"details": details} if details is not None else {})}


def test_a_pairwise_strength_is_the_pair_margin_averaged_over_labelers():
    first = [
        pairwise("p", "a", "b", [1.0, 0.0], {"margin": 3.0}),
        pairwise("q", "x", "y", [0.0, 1.0], '{"margin": 2}'),  # a row's details: JSON text
        pairwise("r", "s", "t", [1.0, 0.0], {"annotator": "ann"}),  # no strength
    ]
    second = [
        pairwise("p", "b", "a", [0.0, 1.0], {"margin": 1.0}),  # same verdict, other order
        pairwise("q", "x", "y", [0.0, 1.0]),
        pairwise("r", "s", "t", [1.0, 0.0], {"margin": -1.0}),  # not a strength: ignored
    ]
    opinions = [opinions_from_labels("one", first), opinions_from_labels("two", second)]
    choices, _ = choose_pairs(opinions)
    margins = {(c.prompt_id, c.chosen_id, c.rejected_id): c.margin for c in choices}
    assert margins == {("p", "a", "b"): 2.0, ("q", "y", "x"): 2.0, ("r", "s", "t"): None}


def test_a_voted_pair_averages_the_strengths_signed_toward_its_winner():
    labels = {
        "strong": [pairwise("p", "a", "b", [1.0, 0.0], {"margin": 3.0})],
        "weak": [pairwise("p", "a", "b", [0.0, 1.0], {"margin": 1.0})],
        "tie": [pairwise("p", "a", "b", [0.5, 0.5], {"margin": 0.0})],
    }
    opinions = [opinions_from_labels(name, rows) for name, rows in labels.items()]
    choices, _ = choose_pairs(opinions, combine="vote", weights={"strong": 2.0})
    assert [(c.chosen_id, c.margin) for c in choices] == [("a", (3.0 - 1.0 + 0.0) / 3)]


@pytest.fixture
def strength_store(hh_datasets):
    """hh_datasets plus `strength`: a pairwise labeler agreeing with hh-rlhf's humans, with a
    strength (0 to 3) on every pair, and a preference dataset built from it."""
    human = hh_datasets.scan("labels").filter(labeler="human:hh-rlhf").collect()
    labels = [
        Label("strength", "fp-strength", "pairwise", row["prompt_id"], row["candidate_ids"],
              row["scores"], details={"margin": float(i % 4)})
        for i, row in enumerate(human.iter_rows(named=True))
    ]  # fmt: skip
    hh_datasets.write("labels", to_table("labels", labels))
    return hh_datasets


@pytest.mark.parametrize("fmt", ["conversational", "rm-pairs"])
def test_built_rows_carry_the_pairwise_strength(strength_store, fmt):
    assert "details" in labels_of(strength_store, "strength")[2][0]
    config = PreferenceBuildConfig(
        name=f"s-{fmt}", from_labelers=["strength"], splits=SPLITS, format=fmt
    )
    build_preference(strength_store, config)
    human = strength_store.scan("labels").filter(labeler="strength").collect()
    strengths = {
        frozenset(row["candidate_ids"]): float(i % 4)
        for i, row in enumerate(human.iter_rows(named=True))
    }
    kinds = ("preference", "rm-pairs")
    rows = [r for s in SPLITS for r in load_split(strength_store, f"s-{fmt}", s, kinds) or []]
    assert rows and {r["margin"] for r in rows} == {0.0, 1.0, 2.0, 3.0}
    if fmt == "conversational":
        for row in rows:
            assert row["margin"] == strengths[frozenset((row["chosen_id"], row["rejected_id"]))]


@pytest.fixture
def scored(hh_datasets):
    """`hh-scored`: best-worst pairs of hh_datasets' `rm-helpful` score labeler (margins 1-6)."""
    config = PreferenceBuildConfig(name="hh-scored", from_labelers=["rm-helpful"], splits=SPLITS)
    build_preference(hh_datasets, config)
    return hh_datasets


def rm_options(tiny_encoder, margin):
    return RewardModelTrainOptions(base=str(tiny_encoder), max_length=64, margin=margin)


@pytest.mark.slow
def test_the_margin_column_reaches_trls_dataset_and_loss(scored, tiny_encoder, tmp_path):
    rows = load_split(scored, "hh-scored", "train", ("preference",))
    expected = [t.margin for t in preference_triples(rows)]
    assert all(m > 0 for m in expected)
    run = TRAINERS["rm"].prepare(scored, "hh-scored", tmp_path, rm_options(tiny_encoder, True))
    assert run.trainer.train_dataset["margin"] == pytest.approx(expected)
    assert run.metrics["margin"] == "on" and run.metrics["train_pairs_with_margin"] == len(rows)
    trainer = run.trainer
    batch = next(iter(trainer.get_train_dataloader()))
    assert "margin" in batch
    with torch.no_grad():
        loss = trainer.compute_loss(trainer.model, dict(batch))
        rewards = trainer.model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    chosen, rejected = rewards.squeeze(-1).chunk(2)
    want = -torch.nn.functional.logsigmoid(chosen - rejected - batch["margin"]).mean()
    plain = -torch.nn.functional.logsigmoid(chosen - rejected).mean()
    assert loss.item() == pytest.approx(want.item(), rel=1e-5)
    assert not math.isclose(loss.item(), plain.item(), rel_tol=1e-3)
    off = TRAINERS["rm"].prepare(scored, "hh-scored", tmp_path, rm_options(tiny_encoder, False))
    assert "margin" not in off.trainer.train_dataset.column_names
    assert off.metrics["margin"] == "off"


@pytest.mark.slow
def test_margin_on_a_dataset_without_margins_says_so(hh_datasets, tiny_encoder, tmp_path):
    run = TRAINERS["rm"].prepare(hh_datasets, "hh", tmp_path, rm_options(tiny_encoder, True))
    assert "margin" not in run.trainer.train_dataset.column_names
    assert run.metrics["margin"] == "none in dataset"


@pytest.mark.slow
def test_training_with_and_without_margin_reports_held_out_accuracy(scored, tiny_encoder, tmp_path):
    summaries = {
        margin: TRAINERS["rm"].train(
            scored, "hh-scored", tmp_path / str(margin), rm_options(tiny_encoder, margin),
            settings=STEPS,
        )
        for margin in (False, True)
    }  # fmt: skip
    off, on = summaries[False], summaries[True]
    assert (off["margin"], on["margin"]) == ("off", "on")
    assert on["train_loss"] > off["train_loss"]  # positive margins: a harder target, same start
    for summary in (off, on):
        assert 0.0 <= summary["test_accuracy"] <= 1.0 and summary["test_pairs"] > 0
