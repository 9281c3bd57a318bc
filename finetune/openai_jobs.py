"""`prefsmith train openai`: a fine-tuning job on OpenAI's API from a dataset built with
`--format openai`.

    prefsmith train openai --store S --dataset hh-openai --method dpo --model gpt-4o-mini-2024-07-18

The training file's SHA-256 identifies the job: it is recorded in the store
(`STORE/finetune/openai-jobs.json`) the moment the job exists, and set as the job's
metadata, so a rerun (even from a fresh store) finds the existing job and polls it
instead of uploading and paying again. Polling backs off from 5 s to 60 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.store import Store, load_manifest

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
FINAL = {"succeeded", "failed", "cancelled"}
METHOD_KINDS = {"dpo": "preference", "sft": "reward-in-prompt"}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _ledger(store: Store) -> Path:
    return store.root / "finetune" / "openai-jobs.json"


def _record(store: Store, key: str, entry: dict[str, Any]) -> None:
    """Update the ledger atomically (temp + rename), so a crash never loses a job id."""
    path = _ledger(store)
    path.parent.mkdir(parents=True, exist_ok=True)
    ledger = json.loads(path.read_text()) if path.is_file() else {}
    ledger[key] = {**ledger.get(key, {}), **entry}
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ledger, indent=2))
    tmp.replace(path)


def dataset_files(store: Store, dataset: str, method: str) -> tuple[Path, Path | None]:
    """The train (and validation) JSONL of an OpenAI-format dataset fit for `method`."""
    manifest = load_manifest(store, dataset)
    if manifest["config"].get("format") != "openai":
        raise UserError(f"--dataset {dataset}: build it with --format openai for OpenAI")
    if manifest["kind"] != METHOD_KINDS[method]:
        raise UserError(
            f"--dataset {dataset} is a {manifest['kind']} dataset; --method {method} "
            f"needs a {METHOD_KINDS[method]} dataset"
        )
    folder, files = store.root / "datasets" / dataset, manifest["data_files"]
    if "train" not in files:
        raise UserError(f"--dataset {dataset} has no train split")
    validation = folder / files["test"] if "test" in files else None
    return folder / files["train"], validation


def _client(base_url: str | None) -> Any:
    from openai import OpenAI

    if not os.environ.get("OPENAI_API_KEY"):
        raise UserError("OPENAI_API_KEY is not set (the key is read from the environment only)")
    return OpenAI(base_url=base_url, max_retries=5)


def _find_job(client: Any, key: str, known: dict[str, Any]) -> Any | None:
    if known.get("job_id"):
        return client.fine_tuning.jobs.retrieve(known["job_id"])
    for job in client.fine_tuning.jobs.list(metadata={"prefsmith_sha256": key}, limit=10):
        if (job.metadata or {}).get("prefsmith_sha256") == key:
            return job
    return None


def _upload(client: Any, path: Path, key: str) -> str:
    name = f"prefsmith-{key[:16]}-{path.name}"
    for existing in client.files.list(purpose="fine-tune"):
        if existing.filename == name:
            return existing.id
    with open(path, "rb") as handle:
        return client.files.create(file=(name, handle), purpose="fine-tune").id


def launch_openai_job(
    store: Store,
    dataset: str,
    *,
    method: str = "sft",
    model: str = DEFAULT_MODEL,
    suffix: str | None = None,
    beta: float | None = None,
    wait: bool = True,
    poll_timeout: float = 24 * 3600,
    base_url: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, Any]:
    """Create (or find) the job for this dataset and method, and poll it to the end."""
    if method not in METHOD_KINDS:
        raise UserError(f"--method must be sft or dpo, not {method!r}")
    train, validation = dataset_files(store, dataset, method)
    key = hashlib.sha256(
        f"{_sha256(train)}:{validation and _sha256(validation)}:{method}:{model}:{beta}".encode()
    ).hexdigest()
    client = _client(base_url)
    ledger = json.loads(_ledger(store).read_text()) if _ledger(store).is_file() else {}
    job = _find_job(client, key, ledger.get(key, {}))
    reused = job is not None
    if job is None:
        files = {"training_file": _upload(client, train, key)}
        if validation is not None:
            files["validation_file"] = _upload(client, validation, key)
        spec: dict[str, Any] = {"type": "supervised" if method == "sft" else "dpo"}
        if method == "dpo" and beta is not None:
            spec["dpo"] = {"hyperparameters": {"beta": beta}}
        job = client.fine_tuning.jobs.create(
            model=model,
            method=spec,
            suffix=suffix or dataset[:18],
            metadata={"prefsmith_sha256": key, "prefsmith_dataset": dataset[:64]},
            **files,
        )
    _record(store, key, {"job_id": job.id, "dataset": dataset, "method": method, "model": model})
    delay, deadline = 5.0, time.monotonic() + poll_timeout
    while wait and job.status not in FINAL and time.monotonic() < deadline:
        sleep(delay)
        delay = min(60.0, delay * 2)
        job = client.fine_tuning.jobs.retrieve(job.id)
    _record(store, key, {"status": job.status, "fine_tuned_model": job.fine_tuned_model})
    if job.status == "failed":
        reason = getattr(job.error, "message", None) or "no reason given"
        raise UserError(f"OpenAI fine-tuning job {job.id} failed: {reason}")
    return {
        "command": "train openai",
        "job_id": job.id,
        "status": job.status,
        "fine_tuned_model": job.fine_tuned_model,
        "reused_job": reused,
        "dataset_sha256": key,
    }
