"""Batch API submissions: their status, and collecting them into the store.

    prefsmith batches status --store S
    prefsmith batches collect --store S

`status` polls every submission and downloads what ended; it submits nothing. `collect`
does the same, then runs each job that made ended batches again (the `label` or `generate`
run, recorded with the submission) in answer-only mode: it writes the labels or candidates
the results hold exactly as the online path does, and sends nothing new. What still needs
asking (re-asks, later turns, requests a batch failed) is sent by the next run of the
command itself, under its own `--max-cost`.
"""

from __future__ import annotations

import json
from typing import Any

from prefect import flow

from prefsmith.labelers.batch_client import BatchClient
from prefsmith.labelers.batch_records import BatchRecords
from prefsmith.store import Store


def batch_status(store: str) -> dict[str, Any]:
    """Every submission of the store, its batch polled (nothing is written but the records)."""
    records = BatchRecords(Store(store).root)
    for endpoint in dict.fromkeys(r["endpoint"] for r in records.open()):
        BatchClient(store, endpoint, "").refresh(resume=False)
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


@flow(name="collect-batches")
def collect_batches(store: str) -> dict[str, Any]:
    """Download ended batches and write what they answered, job by job (nothing is sent)."""
    records = BatchRecords(Store(store).root)
    for endpoint in dict.fromkeys(r["endpoint"] for r in records.open()):
        BatchClient(store, endpoint, "").refresh(resume=False)
    jobs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for record in records.all():
        if record["state"] == "collected" and not record.get("written"):
            key = json.dumps(record["job"], sort_keys=True)
            jobs.setdefault(key, (record["job"], []))[1].append(record)
    runs = []
    for job, done in jobs.values():
        runs.append(_write_answers(store, job))
        for record in done:  # a rerun of the job would find them anyway: this saves a run
            record["written"] = True
            records.save(record)
    status = batch_status(store)
    return {
        "command": "batches collect",
        "runs": runs,
        "requests_in_flight": status["requests_in_flight"],
    }


def _write_answers(store: str, job: dict[str, Any]) -> dict[str, Any]:
    """The job run again in answer-only mode: what collected batches answered is written."""
    from prefsmith.labelers.generation import generate_candidates
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler
    from prefsmith.schemas.run_config import GenerateConfig, LabelConfig

    if job.get("command") == "generate":
        c = GenerateConfig.model_validate(job["config"])
        client = BatchClient(store, c.endpoint, c.model, job=job, submit=False)
        sampling = {"temperature": c.temperature, "top_p": c.top_p, "max_tokens": c.max_tokens}
        summary = generate_candidates(
            Store(store),
            client,
            n=c.n,
            sampling={**sampling, "seed": c.seed},
            limit=c.limit,
            sources=c.sources,
            first_turn_only=c.first_turn_only,
        )
        summary["batch_pending"] = summary["errors_by_reason"].pop("batch_pending", 0)
        summary["errors"] -= summary["batch_pending"]
        return summary
    config = LabelConfig.model_validate(job["config"])
    labeler = build_labeler(config.labeler, config.options)
    labeler.job, labeler.batch_submit = job, False
    return run_labeler(
        Store(store),
        labeler,
        limit=config.limit,
        origins=config.origins,
        retry_errors=config.retry_errors,
    )
