"""The reward_model labeler on the real MiniLM encoder, with a head set so the order is known."""

from pathlib import Path

import polars as pl
import pytest

from prefsmith.bundled import minilm_dir
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler, store_items
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, Prompt, load_json, to_table
from prefsmith.store import Store

GOOD = "Sure! Preheat the oven to 220C, knead the dough for ten minutes and bake it for 35 minutes."
BAD = "No. Figure it out yourself, I am not going to help you with that."


def add_dialogue(store: Store, messages: list[dict], answers: list[str]) -> list[str]:
    prompt = Prompt(messages=messages, source="test")
    candidates = [Candidate(prompt.prompt_id, answer, origin="test") for answer in answers]
    store.write("prompts", to_table("prompts", [prompt]))
    store.write("candidates", to_table("candidates", candidates))
    return [c.candidate_id for c in candidates]


@pytest.fixture(scope="module")
def ordered_rm(tmp_path_factory) -> Path:
    """MiniLM with a one-logit head pointing from the pooled BAD input to the pooled GOOD one."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir(), num_labels=1).eval()
    labeler = build_labeler("reward_model", {"model": str(minilm_dir()), "input_format": "hh"})
    labeler.tokenizer = tokenizer

    def pooled(answer: str) -> torch.Tensor:
        ids, _ = labeler._encode(
            type(
                "I",
                (),
                {
                    "contents": [answer],
                    "messages": [{"role": "user", "content": "How do I bake bread?"}],
                },
            )()
        )
        with torch.no_grad():
            return model.bert(input_ids=torch.tensor([ids])).pooler_output[0]

    with torch.no_grad():
        model.classifier.weight.copy_((pooled(GOOD) - pooled(BAD))[None])
        model.classifier.bias.zero_()
    path = tmp_path_factory.mktemp("ordered-rm")
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def scores(store: Store, labeler: str = "reward_model") -> dict[str, float]:
    labels = store.scan("labels").collect().filter(labeler=labeler)
    pairs = zip(labels["candidate_ids"].to_list(), labels["scores"].to_list(), strict=True)
    return {ids[0]: s[0] for ids, s in pairs if s}


def test_the_known_order_comes_out_and_a_rerun_is_cached(store_dir, ordered_rm):
    store = Store(store_dir)
    good, bad = add_dialogue(
        store, [{"role": "user", "content": "How do I bake bread?"}], [GOOD, BAD]
    )
    labeler = build_labeler("reward_model", {"model": str(ordered_rm), "device": "cpu"})
    first = run_labeler(store, labeler)
    assert (first["labeled"], first["cached"], first["errors"]) == (2, 0, 0)
    got = scores(store)
    assert got[good] > got[bad]
    again = run_labeler(store, build_labeler("reward_model", {"model": str(ordered_rm)}))
    assert (again["labeled"], again["cached"]) == (0, 2)
    changed = run_labeler(
        store, build_labeler("reward_model", {"model": str(ordered_rm), "max_length": 256})
    )
    assert (changed["labeled"], changed["cached"]) == (2, 0)  # a new fingerprint is a cache miss


def test_long_dialogues_lose_old_turns_never_the_answer(store_dir, ordered_rm):
    store = Store(store_dir)
    turns = []
    for i in range(12):
        turns += [
            {"role": "user", "content": f"Question {i}: " + "tell me more " * 20},
            {"role": "assistant", "content": "More words. " * 20},
        ]
    turns.append({"role": "user", "content": "And finally, how do I bake bread?"})
    add_dialogue(store, turns, [GOOD])
    labeler = build_labeler(
        "reward_model", {"model": str(ordered_rm), "max_length": 128, "input_format": "hh"}
    )
    run_labeler(store, labeler)
    label = store.scan("labels").collect().row(0, named=True)
    details = load_json(label["details"])
    assert label["error"] is None and details["tokens"] <= 128 and details["dropped_turns"] >= 20
    ids, _ = labeler._encode(store_items(store, "candidate")[0])
    assert labeler.tokenizer.decode(ids).endswith(
        labeler.tokenizer.decode(labeler.tokenizer(GOOD, add_special_tokens=False)["input_ids"])
        + " [SEP]"
    )


def test_a_100k_character_answer_is_cut_and_flagged_not_dropped(store_dir, ordered_rm):
    store = Store(store_dir)
    add_dialogue(store, [{"role": "user", "content": "Write a lot."}], ["word " * 20_000, ""])
    summary = run_labeler(
        store, build_labeler("reward_model", {"model": str(ordered_rm), "max_length": 128})
    )
    assert (summary["labeled"], summary["errors"]) == (2, 0)  # the empty answer is scored too
    details = [load_json(d) for d in store.scan("labels").collect()["details"].to_list()]
    long = next(d for d in details if d.get("answer_truncated"))
    assert long["tokens"] <= 128


def test_one_failing_item_leaves_the_others_labeled(store_dir, ordered_rm, monkeypatch):
    store = Store(store_dir)
    add_dialogue(store, [{"role": "user", "content": "Bread?"}], [GOOD, BAD, "\x00poison"])
    labeler = build_labeler("reward_model", {"model": str(ordered_rm)})
    real = type(labeler)._tokens_many

    def tokens_many(self, inputs):
        if any("poison" in answer for _, answer in inputs):
            raise ValueError("cannot tokenize this")
        return real(self, inputs)

    monkeypatch.setattr(type(labeler), "_tokens_many", tokens_many)
    summary = run_labeler(store, labeler)
    assert (summary["labeled"], summary["errors"], summary["errors_by_reason"]) == (
        2,
        1,
        {"encode_error": 1},
    )
    assert len(scores(store)) == 2


def test_mistakes_are_clear_before_any_work(tmp_path):
    with pytest.raises(UserError, match="unknown labeler 'reward'"):
        build_labeler("reward", {})
    with pytest.raises(UserError, match="labeler reward_model: model: Field required"):
        build_labeler("reward_model", {})
    with pytest.raises(UserError, match="no such folder"):
        build_labeler("reward_model", {"model": str(tmp_path / "missing")})
    with pytest.raises(UserError, match="no model files"):
        build_labeler("reward_model", {"model": str(tmp_path)})
    with pytest.raises(UserError, match="unknown key 'question'"):
        build_labeler("reward_model", {"model": "x/y", "question": "?"})


def test_batches_are_formed_by_token_count_not_by_characters(store_dir, ordered_rm, monkeypatch):
    """Sorting by characters put a batch of 16 at 9% more padding than sorting by tokens
    (bench.labelers' rm_vs_ceiling): the labeler's own token counts order the run."""
    store = Store(store_dir)
    answers = ["antidisestablishmentarianism " * 4, ". " * 40, "bread " * 10, "x" * 30]
    add_dialogue(store, [{"role": "user", "content": "Say something."}], answers)
    labeler = build_labeler("reward_model", {"model": str(ordered_rm), "batch_size": 1})
    seen: list[str] = []
    real = type(labeler).label_batch
    monkeypatch.setattr(
        type(labeler),
        "label_batch",
        lambda self, items: seen.extend(i.contents[0] for i in items) or real(self, items),
    )
    assert run_labeler(store, labeler)["labeled"] == 4
    tokens = {answer: len(labeler.encode([], answer)[0]) for answer in answers}
    assert sorted(answers, key=len) != sorted(answers, key=tokens.get)  # the case is real
    assert seen == sorted(answers, key=tokens.get)


def test_a_run_tokenizes_each_answer_once(store_dir, ordered_rm, monkeypatch):
    """The ids counted to order the run are the ids scored: the tokenizer is not called
    again for an answer that fits, and the scores are those of a fresh tokenization."""
    store = Store(store_dir)
    answers = ["antidisestablishmentarianism " * 4, ". " * 40, "bread " * 10, "x" * 30]
    add_dialogue(store, [{"role": "user", "content": "Say something."}], answers)
    labeler = build_labeler("reward_model", {"model": str(ordered_rm), "batch_size": 2})
    calls: list[int] = []
    real = type(labeler)._tokens_many
    monkeypatch.setattr(
        type(labeler),
        "_tokens_many",
        lambda self, inputs: calls.append(len(inputs)) or real(self, inputs),
    )
    assert run_labeler(store, labeler)["labeled"] == 4
    assert calls == [4]  # batch_lengths' one call; label_batch used the ids it kept
    stored = dict(
        store.scan("labels").select(pl.col("candidate_ids").list.first(), "scores").collect().rows()
    )
    labeler.load()
    fresh = labeler.label_batch(store_items(store, "candidate"))  # nothing kept: tokenized
    for label in fresh:  # other batches, other padding: equal up to float rounding
        assert label.scores == pytest.approx(stored[label.candidate_ids[0]], abs=1e-5)
    assert calls[-1] == 4
