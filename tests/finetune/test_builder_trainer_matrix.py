"""Every dataset kind of the builder registry, built from the bundled hh-rlhf sample, loads in
`datasets`, and every trainer of the trainer registry takes (a couple of trl steps on a tiny
model) each kind and format it declares: the pairs come from the registries, so a new builder
or trainer is covered without touching this file."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from prefsmith.builders.registry import BUILDERS, build_dataset
from prefsmith.finetune.registry import TRAINERS
from prefsmith.schemas.builds import build_kinds
from prefsmith.schemas.records import Label, to_table

STEPS = {"max_steps": 2, "logging_steps": 1, "save_steps": 2, "per_device_train_batch_size": 2}
SPLITS = {"train": 0.8, "test": 0.2}


def _settings(kind: str, fmt: str, tokenizer: str) -> dict:
    """What a user gives `prefsmith build KIND` for this format."""
    base = {"name": f"{kind}-{fmt}", "splits": SPLITS}
    if kind in ("preference", "rm-pairs"):
        return {**base, "from_labelers": ["human:hh-rlhf"], "format": fmt}
    if kind == "reward-in-prompt":
        return {
            **base,
            "rewards": {"helpful": "rm-helpful", "harmless": "rm-harmless"},
            "format": fmt,
        }
    return {**base, "tokenizer": tokenizer, "from_labeler": "critic"}


def _formats(kind: str) -> list[str]:
    import typing

    return list(typing.get_args(build_kinds()[kind].model_fields["format"].annotation))


BUILDS = [(kind, fmt) for kind in BUILDERS for fmt in _formats(kind)]
PAIRS = [
    (trainer, kind, fmt)
    for trainer, spec in TRAINERS.items()
    for kind, fmt in BUILDS
    if kind in spec.kinds and fmt in spec.formats
]


@pytest.fixture(scope="module")
def matrix_store(tmp_path_factory, tiny_chat_model):
    """The sample ingested, synthetic score and critique labels, and every (kind, format)
    built through the builder registry."""
    from conftest import HH_SLICE

    from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
    from prefsmith.store import Store

    store = Store(tmp_path_factory.mktemp("matrix") / "store")
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh-rlhf:harmless-base-test")
    rows = store.scan("candidates").select("prompt_id", "candidate_id", "content").collect()
    labels = [
        Label(name, f"fp-{name}", "score", pid, [cid], [float(len(text) % k)])
        for name, k in (("rm-helpful", 7), ("rm-harmless", 5))
        for pid, cid, text in rows.iter_rows()
    ]
    labels += [
        Label("critic", "fp-critic", "critique", pid, [cid], [0.5],
              details={"spans": [{"start": 0, "end": min(8, len(text)), "polarity": "positive"}]})
        for pid, cid, text in rows.iter_rows()
    ]  # fmt: skip
    store.write("labels", to_table("labels", labels))
    for kind, fmt in BUILDS:
        build_dataset(store, kind, _settings(kind, fmt, str(tiny_chat_model)))
    return store


@pytest.mark.parametrize(("kind", "fmt"), BUILDS)
def test_every_build_loads_in_datasets(matrix_store, kind, fmt):
    from datasets import load_dataset

    folder = matrix_store.root / "datasets" / f"{kind}-{fmt}"
    manifest = json.loads((folder / "manifest.json").read_text())
    files = {split: str(folder / path) for split, path in manifest["data_files"].items()}
    loaded = load_dataset("parquet" if files["train"].endswith(".parquet") else "json",
                          data_files=files)  # fmt: skip
    assert set(loaded) == set(SPLITS) and loaded["train"].num_rows > 0


def test_the_matrix_covers_every_trainer_and_every_builder_a_trainer_takes():
    assert {t for t, _, _ in PAIRS} == set(TRAINERS)
    assert ("rm", "rm-pairs", "rm-pairs") in PAIRS and ("dpo", "preference", "standard") in PAIRS


@pytest.mark.slow
@pytest.mark.parametrize(("trainer", "kind", "fmt"), PAIRS)
def test_each_trainer_trains_on_each_build_it_takes(
    matrix_store, trainer, kind, fmt, tiny_encoder, tiny_chat_model, tmp_path
):
    output = tmp_path / trainer
    spec = TRAINERS[trainer]
    if trainer == "rm":
        options = spec.options(base=str(tiny_encoder), max_length=64)
    else:
        options = spec.options(base=str(tiny_chat_model), max_length=64)
    summary = spec.train(matrix_store, f"{kind}-{fmt}", Path(output), options,
                              settings=STEPS)  # fmt: skip
    assert math.isfinite(summary["train_loss"])
    assert (output / "prefsmith-train.json").is_file()
