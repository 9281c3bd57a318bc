"""Scale-out: the label flow sharded over a local two-worker Dask cluster stores the same
labels as the thread runner; runner specs, shards and the task policy."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import threading
from pathlib import Path

import pytest

from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.run_limits import model_limit, transient_reason
from prefsmith.labelers.run_summary import merge_summaries
from prefsmith.labelers.runner import shard_of
from prefsmith.runs.scale_out import check_scale_out, parse_spec
from prefsmith.runtime.task_runners import task_runner
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

HH_SLICE = Path(__file__).parents[1] / "data" / "hh_rlhf_harmless_test_120.jsonl"


def label(store: str, labeler: str, options: dict, **rest):
    """The label flow, called as a run config's `label:` entry is."""
    from prefsmith.flows.label import label as label_flow

    return label_flow(store, {"labeler": labeler, "options": options, **rest})


@pytest.fixture(scope="module")
def tiny_rm(tiny_encoder, tmp_path_factory) -> str:
    """The tiny random encoder with a one-logit head, saved, so every process loads the same."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-rm")
    AutoModelForSequenceClassification.from_pretrained(tiny_encoder, num_labels=1).save_pretrained(
        path
    )
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(path)
    return str(path)


@pytest.fixture
def hh_store(tmp_path) -> Path:
    from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl

    root = tmp_path / "store"
    ingest_hh_jsonl(HH_SLICE, Store(root), source_key="k", source_name="hh-rlhf:harmless-base-test")
    return root


def stored_labels(root: Path, labeler: str) -> dict[str, tuple]:
    labels = Store(root).scan("labels").collect().filter(labeler=labeler).sort("label_id")
    return {
        row["label_id"]: (tuple(row["candidate_ids"]), tuple(row["scores"] or ()), row["error"])
        for row in labels.iter_rows(named=True)
    }


@pytest.mark.prefect
@pytest.mark.slow
def test_a_two_worker_dask_cluster_stores_the_labels_the_thread_runner_does(
    hh_store, tiny_rm, tmp_path
):
    from distributed import Client, LocalCluster

    options = {"model": tiny_rm, "max_length": 64}
    other = tmp_path / "other-store"
    shutil.copytree(hh_store, other)

    threads = label(str(hh_store), "reward_model", options, shards=4)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dask = label(
            str(other), "reward_model", options, shards=4, task_runner=cluster.scheduler_address
        )
        executed = client.run(lambda dask_worker: dask_worker.state.executed_count)

    assert threads["items"] == dask["items"] == 238
    assert (threads["labeled"], threads["cached"], threads["errors"]) == (238, 0, 0)
    assert (dask["labeled"], dask["cached"], dask["errors"]) == (238, 0, 0)
    assert set(threads) == set(dask)
    assert stored_labels(hh_store, "reward_model") == stored_labels(other, "reward_model")
    assert len(executed) == 2 and all(count >= 1 for count in executed.values())  # both worked
    again = label(str(other), "reward_model", options, shards=3)  # another split: all stored
    assert (again["items"], again["labeled"], again["cached"]) == (238, 0, 238)


@pytest.mark.prefect
@pytest.mark.slow
def test_a_local_ray_instance_stores_the_labels_the_thread_runner_does(hh_store, tiny_rm, tmp_path):
    options = {"model": tiny_rm, "max_length": 64}
    other = tmp_path / "other-store"
    shutil.copytree(hh_store, other)
    threads = label(str(hh_store), "reward_model", options, shards=2)
    ray = label(str(other), "reward_model", options, shards=2, task_runner="ray?workers=2")
    assert (ray["items"], ray["labeled"], ray["errors"]) == (238, 238, 0)
    same = ("fingerprint", "items", "labeled", "cached", "errors", "errors_by_reason")
    assert {k: ray[k] for k in same} == {k: threads[k] for k in same} and set(ray) == set(threads)
    assert stored_labels(hh_store, "reward_model") == stored_labels(other, "reward_model")


@pytest.mark.prefect
def test_shards_split_the_work_and_the_limit_without_overlap(hh_store, tiny_rm):
    options = {"model": tiny_rm, "max_length": 32}
    first = label(str(hh_store), "reward_model", options, limit=10, shards=3)
    assert (first["labeled"], first["cached"], first["items"]) == (10, 0, 238)
    rest = label(str(hh_store), "reward_model", options, shards=3, task_runner="threads?workers=2")
    assert (rest["labeled"], rest["cached"]) == (228, 10)
    assert len(stored_labels(hh_store, "reward_model")) == 238


def test_items_land_in_one_shard_each_by_label_id():
    labeler = build_labeler("reward_model", {"model": "org/rm"})
    ids = [f"{i:032x}" for i in range(0, 2**20, 997)]
    shards = [shard_of(label_id, 4) for label_id in ids]
    assert set(shards) == {0, 1, 2, 3} and shards == [shard_of(x, 4) for x in ids]
    assert model_limit(labeler) in ("prefsmith-model-cpu", "prefsmith-model-cuda")
    cpu = build_labeler("yes_no", {"model": "org/lm", "device": "cpu", "questions": ["ok?"]})
    assert model_limit(cpu) == "prefsmith-model-cpu"


@pytest.mark.prefect
def test_a_shard_waits_for_its_model_slot_only_when_the_limit_exists():
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
    from prefect.concurrency.sync import concurrency

    from prefsmith.runtime.task_runners import model_slot

    labeler = build_labeler("yes_no", {"model": "org/lm", "device": "cpu", "questions": ["ok?"]})
    name = model_limit(labeler)
    loaded = threading.Event()

    def shard() -> None:
        with model_slot(labeler):
            loaded.set()

    shard()  # no such limit on the server: nothing to wait for
    assert loaded.is_set() and name == "prefsmith-model-cpu"
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))
    try:
        loaded.clear()
        with concurrency(name, occupy=1, strict=True):  # another shard holds the CPU model
            waiting = threading.Thread(target=shard)
            waiting.start()
            assert not loaded.wait(3)
        assert loaded.wait(60)
        waiting.join(30)  # the slot is given back
    finally:
        with get_client(sync_client=True) as client:
            client.delete_global_concurrency_limit_by_name(name)


def test_runner_specs():
    from prefect.task_runners import ThreadPoolTaskRunner

    assert parse_spec(None).kind == "threads"
    assert parse_spec("dask?workers=2").options == {"workers": 2}
    assert parse_spec("dask://scheduler:8786").address == "tcp://scheduler:8786"
    assert parse_spec("tls://scheduler:8786").address == "tls://scheduler:8786"
    assert parse_spec("ray://head:10001") == parse_spec("ray://head:10001/")
    assert parse_spec("ray://head:10001").address == "ray://head:10001"
    assert isinstance(task_runner(None), ThreadPoolTaskRunner)
    assert task_runner("threads?workers=3")._max_workers == 3
    dask = task_runner("dask?workers=2")
    assert dask.cluster_kwargs == {"processes": True, "threads_per_worker": 1, "n_workers": 2}
    assert task_runner("dask://scheduler:8786").address == "tcp://scheduler:8786"
    for bad, message in (
        ("spark", "unknown task runner 'spark'; task runners: threads"),
        ("dask?gpus=1", "unknown option 'gpus'; dask takes: threads, workers"),
        ("dask?workers=0", "workers must be a whole number >= 1, not '0'"),
        ("http://x:1", "unknown task runner 'http://x:1'"),
        ("dask://", "expected SCHEME://HOST:PORT"),
    ):
        with pytest.raises(UserError, match=message.replace("?", r"\?")):
            task_runner(bad)
    with pytest.raises(UserError, match="shards must be a whole number >= 1, not 0"):
        check_scale_out(0, None)


def test_a_missing_package_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "prefect_dask", None)  # what an uninstalled package does
    with pytest.raises(UserError, match=r"needs prefect-dask: pip install 'prefsmith\[dask\]'"):
        task_runner("dask")
    if importlib.util.find_spec("prefect_ray") is None:
        with pytest.raises(UserError, match=r"pip install 'prefsmith\[ray\]'"):
            check_scale_out(2, "ray://head:10001")
    else:
        assert parse_spec("ray").kind == "ray" and task_runner("ray?workers=2") is not None


def test_only_transient_failures_are_retried():
    import torch

    assert transient_reason(torch.OutOfMemoryError("CUDA out of memory")) == "out_of_memory"
    assert transient_reason(ConnectionRefusedError(111, "refused")) == "connection_error"
    assert transient_reason(TimeoutError()) == "timeout"
    try:
        try:
            raise ConnectionResetError("reset by peer")
        except OSError as error:
            raise RuntimeError("could not load the model") from error
    except RuntimeError as wrapped:
        assert transient_reason(wrapped) == "connection_error"
    assert transient_reason(ValueError("bad template")) is None
    assert transient_reason(UserError("no such model")) is None


@pytest.mark.prefect
def test_prefect_retries_a_shard_on_a_transient_error_only():
    from prefect import flow, task

    from prefsmith.runtime.task_runners import retry_on_transient

    attempts: list[str] = []

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=retry_on_transient)
    def load(error: str) -> str:
        attempts.append(error)
        if len(attempts) == 1:
            raise {"transient": ConnectionRefusedError(111, "refused"), "final": ValueError()}[
                error
            ]
        return "loaded"

    @flow
    def shard(error: str) -> str:
        return load(error)

    assert shard("transient") == "loaded" and attempts == ["transient", "transient"]
    attempts.clear()
    assert isinstance(shard("final", return_state=True).result(raise_on_failure=False), ValueError)
    assert attempts == ["final"]


def test_shard_summaries_merge_into_one_with_the_same_keys():
    def shard(labeled, errors, reasons, consistency):
        return {
            "command": "label", "labeler": "judge", "fingerprint": "f", "items": labeled + 5,
            "labeled": labeled, "cached": 5 - errors, "errors": errors,
            "errors_by_reason": reasons, "judged_in_both_orders": labeled,
            "consistency": consistency, "seconds": 1.0, "items_per_s": 1.0,
        }  # fmt: skip

    merged = merge_summaries(
        [shard(30, 1, {"unparseable": 1}, 0.9), shard(10, 2, {"unparseable": 2}, 0.5)], 2.0
    )
    assert set(merged) == set(shard(1, 0, {}, 1.0))
    assert (merged["items"], merged["labeled"], merged["cached"], merged["errors"]) == (
        50,
        40,
        7,
        3,
    )
    assert merged["errors_by_reason"] == {"unparseable": 3}
    assert merged["judged_in_both_orders"] == 40 and merged["consistency"] == 0.8
    assert (merged["seconds"], merged["items_per_s"]) == (2.0, 21.5)


@pytest.mark.prefect
@pytest.mark.slow
def test_the_command_line_starts_a_local_cluster_and_checks_its_flags(tmp_path, tiny_rm):
    from cli_runner import run_json, runner

    from prefsmith.cli.app import app

    store = str(tmp_path / "store")
    run_json("ingest", "hh-rlhf", str(HH_SLICE), "--store", store, "--limit", "10")
    args = ["label", "--store", store, "--labeler", "reward_model", "--model", tiny_rm]
    first = run_json(*args, "--shards", "3", "--task-runner", "dask?workers=2")
    assert (first["items"], first["labeled"], first["cached"], first["errors"]) == (20, 20, 0, 0)
    again = run_json(*args, "--shards", "2")
    assert (again["labeled"], again["cached"]) == (0, 20)
    bad = runner.invoke(app, [*args, "--task-runner", "spark://head:7077"])
    assert bad.exit_code == 2 and "unknown task runner 'spark://head:7077'" in bad.stderr
    zero = runner.invoke(app, [*args, "--shards", "0"])
    assert zero.exit_code == 2 and "--shards" in zero.stderr
