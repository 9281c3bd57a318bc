"""`build --at VERSION`: a dataset rebuilt from the store as it was, whatever came since."""

import json

import polars as pl
import pytest

from prefsmith.cli.app import app
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Prompt, to_table
from prefsmith.store import Store
from tests.cli_runner import run_json, runner
from tests.conftest import HH_SLICE


def dataset_rows(store_dir, name: str) -> pl.DataFrame:
    return pl.read_parquet(store_dir / "datasets" / name / "data" / "*.parquet").sort("prompt_id")


def manifest(store_dir, name: str) -> dict:
    return json.loads((store_dir / "datasets" / name / "manifest.json").read_text())


def test_a_dataset_rebuilt_at_its_version_has_the_same_rows(store_dir, tmp_path) -> None:
    lines = HH_SLICE.read_text().splitlines()
    first, later = tmp_path / "first.jsonl", tmp_path / "later.jsonl"
    first.write_text("\n".join(lines[:60]) + "\n")
    later.write_text("\n".join(lines[60:]) + "\n")
    store = ["--store", str(store_dir)]
    run_json("ingest", "hh-rlhf", str(first), *store)
    build = ["build", "preference", "--from", "human:hh-rlhf", "--splits", "train=0.8,test=0.2"]
    built = run_json(*build, "--name", "last-month", *store)
    version = manifest(store_dir, "last-month")["store_version"]
    assert int(version) == Store(store_dir).version()

    run_json("ingest", "hh-rlhf", str(later), *store)  # the store grows ...
    for _ in range(2):  # ... and is compacted, the old parts deleted: rows move to new parts
        run_json("store", "compact", "--retain-minutes", "0", *store)
    assert all(len(Store(store_dir).parts(t)) == 1 for t in ("prompts", "candidates", "labels"))
    now = run_json(*build, "--name", "now", *store)
    assert now["rows"] > built["rows"]

    again = run_json(*build, "--name", "explained", "--at", version, *store)
    assert again["rows"] == built["rows"]
    assert dataset_rows(store_dir, "explained").equals(dataset_rows(store_dir, "last-month"))
    assert manifest(store_dir, "explained")["store_version"] == version
    assert manifest(store_dir, "now")["store_version"] != version


def test_a_version_is_read_only_and_never_newer_than_the_store(store_dir) -> None:
    store = Store(store_dir)
    store.write("prompts", to_table("prompts", [Prompt([{"role": "user", "content": "a"}], "t")]))
    old = store.version()
    store.write("prompts", to_table("prompts", [Prompt([{"role": "user", "content": "b"}], "t")]))
    assert store.at(old).count("prompts") == 1 and store.count("prompts") == 2
    assert store.at(old).summary()["tables"]["prompts"] == 1
    with pytest.raises(UserError, match="read-only"):
        store.at(old).write("prompts", to_table("prompts", []))
    too_new = ["build", "preference", "--store", str(store_dir), "--at", str(store.version() + 1)]
    result = runner.invoke(app, too_new)
    assert result.exit_code == 2 and "newer than the store" in result.output
