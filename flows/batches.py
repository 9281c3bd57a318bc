"""Batch API submissions: their status, and collecting them into the store.

    prefsmith batches status --store S
    prefsmith batches collect --store S

`collect` polls every submission, downloads the results of ended batches, and runs each
job that made them again (the `label` or `generate` run, recorded with the submission):
that run answers from the downloaded results, writes labels or candidates exactly as the
online path does, and submits what still needs asking (re-asks, later turns, requests the
batch failed) as a new batch.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from prefsmith.labelers.batch_client import BatchClient
from prefsmith.labelers.batch_records import BatchRecords
from prefsmith.store import Store


def batch_status(store: str) -> dict[str, Any]:
    """Every submission of the store, its batch polled (nothing is written but the records)."""
    records = BatchRecords(Store(store).root)
    for endpoint in dict.fromkeys(r["endpoint"] for r in records.open()):
        BatchClient(store, endpoint, "").refresh()
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
    """Download ended batches and run again each job with results not yet written."""
    from prefsmith.flows.generate import generate
    from prefsmith.flows.label import label

    records = BatchRecords(Store(store).root)
    for endpoint in dict.fromkeys(r["endpoint"] for r in records.open()):
        BatchClient(store, endpoint, "").refresh()
    jobs: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for record in records.all():
        if record["state"] == "collected" and not record.get("written"):
            key = repr(sorted(record["job"].items()))
            jobs.setdefault(key, (record["job"], []))[1].append(record)
    runs = []
    for job, done in jobs.values():
        if job.get("command") == "label":
            runs.append(label(store=store, config=job["config"]))
        elif job.get("command") == "generate":
            runs.append(generate(store=store, config=job["config"]))
        for record in done:  # a rerun of the job finds them anyway: this only saves a run
            record["written"] = True
            records.save(record)
    status = batch_status(store)
    return {
        "command": "batches collect",
        "runs": runs,
        "requests_in_flight": status["requests_in_flight"],
    }
