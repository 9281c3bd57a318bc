"""Export to a folder (for real) and to the Hub (at its HTTP boundary)."""

import json
from pathlib import Path

import pytest

from prefsmith.builders.datasets import build_preference
from prefsmith.builders.export import check_export, export_to_folder, push_to_hub
from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
from prefsmith.schemas.builds import PreferenceBuildConfig
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

HH_SLICE = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


@pytest.fixture
def built(store_dir) -> Path:
    store = Store(store_dir)
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh")
    return Path(
        build_preference(store, PreferenceBuildConfig(name="hh", from_labelers=["human:hh-rlhf"]))[
            "path"
        ]
    )


def test_folder_export_is_the_hub_layout_and_loads(built, tmp_path, store_dir):
    from datasets import load_dataset

    target = tmp_path / "out" / "hh"
    check_export(Store(store_dir), "hh", str(target))
    export_to_folder(built, target)
    assert sorted(p.name for p in target.iterdir()) == [
        "README.md",
        "data",
        "images",
        "manifest.json",
    ]
    data = load_dataset("parquet", data_dir=str(target / "data"))
    assert sum(split.num_rows for split in data.values()) == 119
    with pytest.raises(UserError, match="exists and is not empty"):
        check_export(Store(store_dir), "hh", str(target))
    with pytest.raises(UserError, match="no dataset 'nope'"):
        check_export(Store(store_dir), "nope", str(tmp_path / "x"))
    with pytest.raises(UserError, match="expected hub://ORG/NAME"):
        check_export(Store(store_dir), "hh", "hub://just-a-name")


def test_hub_push_is_one_private_commit_and_the_token_stays_out_of_the_files(built, monkeypatch):
    from fake_hub import FakeHub

    hub = FakeHub()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.setattr(
        "huggingface_hub.constants.HF_HUB_OFFLINE", False
    )  # the fake Hub is reachable
    try:
        result = push_to_hub(built, "my-org/hh-pairs", private=True, token="hf_secret_token")
    finally:
        hub.close()
    paths = [r["path"] for r in hub.requests]
    assert paths[0] == "/api/repos/create" and sum("/commit/" in p for p in paths) == 1
    assert json.loads(hub.requests[0]["body"]) == {
        "name": "hh-pairs",
        "organization": "my-org",
        "visibility": "private",
        "type": "dataset",
    }
    assert all(r["auth"] == "Bearer hf_secret_token" for r in hub.requests)
    assert {"README.md", "manifest.json", "images/label_distributions.png"} <= set(hub.files)
    assert any(p.startswith("data/train-") for p in hub.files)
    assert not any(b"hf_secret_token" in content for content in hub.files.values())
    assert result == {"url": f"{hub.url}/datasets/my-org/hh-pairs", "commit": "0123abcd"}
