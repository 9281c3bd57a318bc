"""Collecting Batch API submissions into the store.

    prefsmith batches collect --store S

The flow polls every submission and downloads what ended; it submits nothing. Then it runs
each job that made ended batches again (the `label` or `generate` run, recorded with the
submission) in answer-only mode: it writes the labels or candidates the results hold exactly
as the online path does, and sends nothing new. What still needs asking (re-asks, later
turns, requests a batch failed) is sent by the next run of the command itself, under its own
`--max-cost`. (`prefsmith batches status` is runs/batches.py, with no flow.)
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.runs.batches import batch_status, collected_jobs, refresh_batches, write_answers


@task(name="write_batch_answers", cache_policy=NONE, persist_result=False)
def write_batch_answers(store: str, job: dict[str, Any]) -> dict[str, Any]:
    return write_answers(store, job)


@flow(name="collect-batches")
def collect_batches(store: str) -> dict[str, Any]:
    """Download ended batches and write what they answered, job by job (nothing is sent)."""
    records = refresh_batches(store)
    runs = []
    for job, done in collected_jobs(records):
        runs.append(write_batch_answers(store, job))
        for record in done:  # a rerun of the job would find them anyway: this saves a run
            record["written"] = True
            records.save(record)
    return {
        "command": "batches collect",
        "runs": runs,
        "requests_in_flight": batch_status(store)["requests_in_flight"],
    }
