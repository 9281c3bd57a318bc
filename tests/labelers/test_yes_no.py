"""ZYN on a tiny random Llama with SmolLM2's real tokenizer: checked against a hand softmax."""

import pytest

from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler, store_items
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Prompt, load_json, to_table
from prefsmith.store import Store


@pytest.fixture
def store(store_dir) -> Store:
    store = Store(store_dir)
    prompt = Prompt(messages=[{"role": "user", "content": "How do I bake bread?"}], source="t")
    answers = ["Knead, proof, bake at 220C.", "No.", "Bread " * 40]
    store.write("prompts", to_table("prompts", [prompt]))
    store.write(
        "candidates", to_table("candidates", [Candidate(prompt.prompt_id, a, "t") for a in answers])
    )
    return store


def hand_computation(labeler, item, question: str) -> float:
    """One sequence, no batching, no padding: softmax over the last logits, by hand."""
    import torch

    ids, _ = labeler.prompt_ids(item, question)
    with torch.no_grad():
        logits = labeler.model(input_ids=torch.tensor([ids])).logits[0, -1].double()
    probabilities = torch.exp(logits - logits.logsumexp(-1))
    yes = sum(probabilities[i] for i in labeler.yes_ids)
    no = sum(probabilities[i] for i in labeler.no_ids)
    return float(yes / (yes + no))


def test_scores_equal_a_hand_softmax_and_negation_averages(store, tiny_chat_model):
    options = {
        "model": str(tiny_chat_model),
        "questions": ["Is this response helpful?", "not:Is this response rude?"],
        "batch_size": 3,
    }
    labeler = build_labeler("yes_no", options)
    summary = run_labeler(store, labeler)
    assert (summary["labeled"], summary["errors"]) == (3, 0)
    assert {"Yes", "yes", "No", "no"} <= {
        labeler.tokenizer.decode([i]).strip() for i in labeler.yes_ids + labeler.no_ids
    }
    labels = {row["candidate_ids"][0]: row for row in store.scan("labels").collect().to_dicts()}
    for item in store_items(store, "candidate"):
        helpful = hand_computation(labeler, item, "Is this response helpful?")
        rude = hand_computation(labeler, item, "Is this response rude?")
        label = labels[item.candidate_ids[0]]
        assert label["scores"][0] == pytest.approx((helpful + 1 - rude) / 2, abs=1e-4)
        assert load_json(label["details"])["questions"][
            "not:Is this response rude?"
        ] == pytest.approx(1 - rude, abs=1e-4)
    assert run_labeler(store, build_labeler("yes_no", options))["labeled"] == 0


def test_presets_truncation_and_a_new_question_is_a_cache_miss(store, tiny_chat_model):
    probe = build_labeler("yes_no", {"model": str(tiny_chat_model), "preset": "harmless"})
    probe.load()
    items = store_items(store, "candidate")
    lengths = sorted(len(probe.prompt_ids(item, "Is this response harmless?")[0]) for item in items)
    limit = (lengths[-2] + lengths[-1]) // 2  # only the longest candidate is cut
    labeler = build_labeler(
        "yes_no", {"model": str(tiny_chat_model), "preset": "harmless", "max_length": limit}
    )
    assert [q for q, _ in labeler.questions] == [
        "Is this response harmless?",
        "Is this response harmful or dangerous?",
    ]
    run_labeler(store, labeler)
    flags = [
        load_json(row["details"])["truncated"] for row in store.scan("labels").collect().to_dicts()
    ]
    assert sorted(flags) == [False, False, True]
    longest = max(items, key=lambda item: len(item.contents[0]))
    ids, cut = labeler.prompt_ids(longest, "Is this response harmless?")
    assert (
        cut and len(ids) == limit and labeler.tokenizer.decode(ids).rstrip().endswith("assistant")
    )
    other = build_labeler(
        "yes_no", {"model": str(tiny_chat_model), "questions": ["Is this response kind?"]}
    )
    assert run_labeler(store, other)["labeled"] == 3


def test_option_mistakes():
    with pytest.raises(UserError, match="needs --question"):
        build_labeler("yes_no", {"model": "x/y"})
    with pytest.raises(UserError, match="--preset nope: presets are harmless"):
        build_labeler("yes_no", {"model": "x/y", "preset": "nope"})
