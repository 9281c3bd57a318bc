"""Export to a folder (for real) and to the Hub (at its HTTP boundary)."""

import hashlib
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


def _hub_online(monkeypatch, tmp_path, **fake):
    from fake_hub import FakeHub, point_huggingface_at

    hub = FakeHub(**fake)
    point_huggingface_at(hub, monkeypatch, tmp_path / "hf-cache")  # legacy LFS path, no Xet
    return hub


def _local_files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def test_hub_push_is_one_private_commit_with_binaries_through_lfs(built, tmp_path, monkeypatch):
    hub = _hub_online(monkeypatch, tmp_path, token="hf_secret_token")
    try:
        result = push_to_hub(built, "my-org/hh-pairs", private=True, token="hf_secret_token")
    finally:
        hub.close()
    assert hub.unknown == [] and hub.rejected == []
    paths = [r["path"] for r in hub.requests]
    assert paths[0] == "/api/repos/create" and sum("/commit/" in p for p in paths) == 1
    assert json.loads(hub.requests[0]["body"]) == {
        "name": "hh-pairs",
        "organization": "my-org",
        "visibility": "private",
        "type": "dataset",
    }
    # The Hub API sees the token; the signed storage URL the bytes are PUT to does not.
    puts = [r for r in hub.requests if r["method"] == "PUT"]
    assert all(r["auth"] == "Bearer hf_secret_token" for r in hub.requests if r["method"] != "PUT")
    assert puts and all(r["auth"] is None for r in puts)
    # Parquet and PNG went through LFS (preupload said so, the bytes were PUT and checked, the
    # commit names them by oid); the card and the manifest are regular files.
    local = _local_files(built)
    binary = {p for p in local if p.endswith((".parquet", ".png"))}
    assert "images/label_distributions.png" in binary and any(
        p.startswith("data/train-") for p in binary
    )
    assert {p for p, kind in hub.committed_as.items() if kind == "lfsFile"} == binary
    assert {p for p, mode in hub.upload_modes.items() if mode == "lfs"} == binary
    assert hub.committed_as["README.md"] == hub.committed_as["manifest.json"] == "file"
    assert {hashlib.sha256(local[p]).hexdigest() for p in binary} == set(hub.lfs_objects)
    assert hub.lfs_verified == set(hub.lfs_objects)
    assert sorted(r["body"] for r in puts) == sorted(local[p] for p in binary)
    # The dataset round-trips: the repo holds exactly the folder's files, byte for byte.
    assert hub.repos["my-org/hh-pairs"] == local
    assert not any(b"hf_secret_token" in content for content in hub.files.values())
    assert result == {
        "url": f"{hub.url}/datasets/my-org/hh-pairs",
        "commit": "0123abcd" * 5,
    }


def test_a_commit_naming_an_lfs_object_never_uploaded_is_refused(built, tmp_path, monkeypatch):
    """The fake refuses what the Hub refuses: an `lfsFile` whose bytes it never received."""
    hub = _hub_online(monkeypatch, tmp_path)
    monkeypatch.setattr("huggingface_hub._commit_api._upload_files", lambda **kwargs: None)
    try:
        with pytest.raises(UserError, match=r"refused the upload to my-org/hh-pairs \(HTTP 422\)"):
            push_to_hub(built, "my-org/hh-pairs", private=True, token="hf_x")
    finally:
        hub.close()
    assert hub.rejected and "was not uploaded" in hub.rejected[0]
    assert hub.repos["my-org/hh-pairs"] == {}


def test_export_takes_the_token_from_the_prefect_secret_and_writes_it_nowhere(
    built, store_dir, tmp_path, monkeypatch, capsys
):
    """No HF_TOKEN: `--token-secret BLOCK` reads the Prefect Secret block; the Hub sees the
    token, the card, the manifest, the store, the output and the log records never do."""
    import logging

    from cli_runner import runner
    from prefect.blocks.system import Secret

    from prefsmith.cli.app import app

    token = "hf_from_the_prefect_secret_block"
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    Secret(value=token).save("prefsmith-hub-token", overwrite=True)
    hub = _hub_online(monkeypatch, tmp_path, token=token)
    records: list[str] = []
    keep = logging.Handler(logging.DEBUG)
    keep.emit = lambda record: records.append(keep.format(record))
    loggers = [logging.getLogger(name) for name in ("", "huggingface_hub", "prefect", "prefsmith")]
    for logger in loggers:  # huggingface_hub's logger does not propagate to the root
        logger.addHandler(keep)
    hf_logger = logging.getLogger("huggingface_hub")
    hf_level = hf_logger.level
    hf_logger.setLevel(logging.DEBUG)  # setLevel, not the attribute: it clears level caches
    try:
        result = runner.invoke(
            app,
            [
                "export", "--store", str(store_dir), "--dataset", "hh",
                "--to", "hub://my-org/hh-pairs", "--token-secret", "prefsmith-hub-token", "--json",
            ],
        )  # fmt: skip
    finally:
        hub.close()
        for logger in loggers:
            logger.removeHandler(keep)
        hf_logger.setLevel(hf_level)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["url"] == f"{hub.url}/datasets/my-org/hh-pairs"
    assert hub.rejected == [] and hub.unknown == []
    api_calls = [r for r in hub.requests if r["method"] != "PUT"]
    assert api_calls and all(r["auth"] == f"Bearer {token}" for r in api_calls)
    assert hub.repos["my-org/hh-pairs"] == _local_files(built)
    assert not any(token.encode() in data for data in hub.files.values())
    assert not any(token.encode() in p.read_bytes() for p in store_dir.rglob("*") if p.is_file())
    assert token not in result.output + capsys.readouterr().out
    # Every log record of the run at DEBUG (huggingface_hub logs each request it sends).
    assert any("/commit/main (authenticated: True)" in line for line in records)
    assert not any(token in line for line in records)
