"""Batch API submissions of a store: their status, and the jobs that wrote them, run again
to write what ended batches answered (`prefsmith batches status|collect`)."""

from __future__ import annotations

import json
from typing import Any

from prefsmith.endpoints.batch_client import BatchClient
from prefsmith.endpoints.batch_records import BatchRecords
from prefsmith.store import Store


def refresh_batches(store: str) -> BatchRecords:
    """Poll every open submission's batch and download what ended (nothing is submitted)."""
    records = BatchRecords(Store(store).root)
    for endpoint in dict.fromkeys(r["endpoint"] for r in records.open()):
        BatchClient(store, endpoint, "").refresh(resume=False)
    return records


def batch_status(store: str) -> dict[str, Any]:
    """Every submission of the store, its batch polled (nothing is written but the records)."""
    records = refresh_batches(store)
    rows = [
        {
            "submission": r["id"],
            "batch_id": r.get("batch_id"),
            "state": r["state"],
            "status": r.get("status"),
            "requests": len(r["requests"]),
            "request_counts": r.get("request_counts", {}),
            "job": _job_name(r["job"]),
            **({"errors": r["errors"]} if r.get("errors") else {}),
        }
        for r in records.all()
    ]
    waiting = sum(row["requests"] for row in rows if row["state"] == "submitted")
    return {"command": "batches status", "submissions": rows, "requests_in_flight": waiting}


def _job_name(job: dict[str, Any]) -> str:
    if job.get("command") == "label":
        return f"label {job['config']['labeler']}"
    return str(job.get("command", "?"))


def collected_jobs(records: BatchRecords) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """The jobs whose batches ended and were downloaded but not yet written, each with its
    submissions."""
    jobs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for record in records.all():
        if record["state"] == "collected" and not record.get("written"):
            key = json.dumps(record["job"], sort_keys=True)
            jobs.setdefault(key, (record["job"], []))[1].append(record)
    return list(jobs.values())


def write_answers(store: str, job: dict[str, Any]) -> dict[str, Any]:
    """The job run again in answer-only mode: what collected batches answered is written."""
    from prefsmith.generation.stage import run_generation
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler
    from prefsmith.schemas.run_config import GenerateConfig, LabelConfig

    if job.get("command") == "generate":
        config = GenerateConfig.model_validate(job["config"])
        return run_generation(Store(store), config, job=job, submit=False)
    config = LabelConfig.model_validate(job["config"])
    labeler = build_labeler(config.labeler, config.options)
    labeler.job, labeler.batch_submit = job, False
    return run_labeler(
        Store(store),
        labeler,
        limit=config.limit,
        origins=config.origins,
        sample=config.sample,
        retry_errors=config.retry_errors,
    )
