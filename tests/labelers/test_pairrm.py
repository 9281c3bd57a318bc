"""PairRM through llm-blender on a tiny random checkpoint built here (no Hub)."""

import json
from pathlib import Path

import pytest

from prefsmith.builders.pairs import choose_pairs, opinions_from_labels
from prefsmith.labelers.blender_compat import import_llm_blender, missing_shims
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.records import Candidate, Prompt, to_table
from prefsmith.store import Store


def test_the_transformers_5_shims_are_still_needed():
    # When this fails, an upgrade fixed llm-blender or transformers: delete that shim.
    assert missing_shims() == ["TRANSFORMERS_CACHE", "batch_encode_plus"]


@pytest.fixture(scope="module")
def tiny_pairrm(tmp_path_factory) -> Path:
    """A PairRM ranker folder: ranker config.json + weights over a 2-layer random BERT."""
    import safetensors.torch
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from prefsmith.bundled import minilm_dir

    import_llm_blender()
    from llm_blender.blender.blender_utils import load_ranker
    from llm_blender.pair_ranker.config import RankerConfig

    root = tmp_path_factory.mktemp("tiny-pairrm")
    backbone, ranker = root / "backbone", root / "ranker"
    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
    )
    BertModel(config).save_pretrained(backbone)
    tokenizer.save_pretrained(backbone)
    fields = {
        "ranker_type": "pairranker",
        "model_type": "bert",
        "model_name": str(backbone),
        "source_maxlength": 128,
        "candidate_maxlength": 128,
        "fp16": False,
    }
    ranker.mkdir()
    (ranker / "config.json").write_text(json.dumps(fields))
    model, _, _ = load_ranker(RankerConfig.from_dict({**fields, "load_checkpoint": None}))
    safetensors.torch.save_model(model, str(ranker / "model.safetensors"))
    return ranker


@pytest.fixture
def store(store_dir) -> Store:
    store = Store(store_dir)
    prompt = Prompt(
        messages=[{"role": "user", "content": "How do I bake bread?"}],
        source="t",
        reference="Knead, proof, bake.",
    )
    store.write("prompts", to_table("prompts", [prompt]))
    answers = ["Knead the dough and bake it.", "No.", "Buy some at the shop."]
    store.write(
        "candidates", to_table("candidates", [Candidate(prompt.prompt_id, a, "t") for a in answers])
    )
    return store


def test_rank_mode_gives_one_ranking_per_prompt_and_reruns_are_cached(store, tiny_pairrm):
    options = {"model": str(tiny_pairrm), "device": "cpu"}
    summary = run_labeler(store, build_labeler("pairrm", options))
    assert (summary["items"], summary["labeled"], summary["errors"]) == (1, 1, 0)
    label = store.scan("labels").collect().row(0, named=True)
    assert (
        label["kind"] == "ranking"
        and len(label["candidate_ids"]) == 3
        and len(set(label["scores"])) == 3
    )
    assert run_labeler(store, build_labeler("pairrm", options))["cached"] == 1
    pairs, _ = choose_pairs(
        [opinions_from_labels("pairrm", store.scan("labels").collect().to_dicts())], mode="all"
    )
    assert len(pairs) == 3  # a ranking of three gives every pair, best over worse


def test_compare_mode_judges_both_orders_and_reference_mode_scores(store, tiny_pairrm):
    compare = run_labeler(
        store, build_labeler("pairrm", {"model": str(tiny_pairrm), "mode": "compare"})
    )
    assert compare["items"] == 3 and compare["labeled"] + compare.get("inconsistent", 0) == 3
    labels = store.scan("labels").collect().filter(kind="pairwise").to_dicts()
    for label in labels:
        details = json.loads(label["details"])
        assert {"logit_ab", "logit_ba"} <= set(details)
        if label["error"] is None:
            assert sorted(label["scores"]) == [0.0, 1.0] and (details["logit_ab"] > 0) == (
                label["scores"][0] == 1.0
            )
    reference = run_labeler(
        store, build_labeler("pairrm", {"model": str(tiny_pairrm), "mode": "reference"})
    )
    assert (reference["labeled"], reference["errors"]) == (3, 0)
    assert store.scan("labels").collect().filter(kind="score").height == 3
