"""Prefect task runners from a one-line spec (threads, dask, dask://HOST:PORT, ray, ...: the
table is in runs/scale_out.py, which parses and checks it), and the concurrency slots and retry
condition a labeling shard holds. See docs/scale-out.md."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from prefsmith.runs.scale_out import RunnerSpec, missing_package, parse_spec
from prefsmith.schemas.errors import UserError


def task_runner(spec: str | None) -> Any:
    """A fresh (not started) Prefect task runner for `spec`; see the module docstring."""
    parsed = parse_spec(spec)
    if parsed.kind == "dask":
        return _dask_runner(parsed)
    if parsed.kind == "ray":
        return _ray_runner(parsed)
    from prefect.task_runners import ThreadPoolTaskRunner

    return ThreadPoolTaskRunner(max_workers=parsed.options.get("workers"))


def _dask_runner(spec: RunnerSpec) -> Any:
    try:
        import dask
        from prefect_dask import DaskTaskRunner
    except ImportError:
        raise UserError(missing_package("dask")) from None
    address = spec.address
    if address is None and not spec.options:
        address = dask.config.get("scheduler-address", None)  # DASK_SCHEDULER_ADDRESS
    if address is not None:
        return DaskTaskRunner(address=address)
    cluster = {"processes": True, "threads_per_worker": spec.options.get("threads", 1)}
    if "workers" in spec.options:
        cluster["n_workers"] = spec.options["workers"]
    return DaskTaskRunner(cluster_kwargs=cluster)


def _ray_runner(spec: RunnerSpec) -> Any:
    try:
        from prefect_ray import RayTaskRunner
    except ImportError:
        raise UserError(missing_package("ray")) from None
    if spec.address is not None:
        return RayTaskRunner(address=spec.address)
    init = {"num_cpus": spec.options["workers"]} if "workers" in spec.options else {}
    return RayTaskRunner(init_kwargs=init)


@contextmanager
def worker_api(spec: RunnerSpec) -> Iterator[None]:
    """Inside a flow run: point a local cluster's workers at this process's Prefect API.

    With no Prefect server configured, a flow run talks to a temporary server that only
    this process knows; each worker process would start its own (seconds each, and its
    task runs never reach the flow run's database). Tasks carry the settings of the
    process that submits them, so setting PREFECT_API_URL to the temporary server here
    makes local workers report to it. A configured server (PREFECT_API_URL) already
    travels with the tasks; workers on other machines can't reach a temporary server
    and need a configured one anyway (docs/scale-out.md).
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL, temporary_settings

    context = FlowRunContext.get()
    client = getattr(context, "client", None)
    if spec.kind == "threads" or not spec.local or PREFECT_API_URL.value() or client is None:
        yield
        return
    with temporary_settings({PREFECT_API_URL: str(client.api_url)}):
        yield


@contextmanager
def limit_slot(name: str | None) -> Iterator[None]:
    """Hold one slot of the Prefect global concurrency limit `name` for the block.

    Only when the limit exists on the Prefect server (`prefect gcl create NAME --limit N`):
    without one there is nothing to wait for, and no warning on every run.
    """
    if name is None or not _limit_exists(name):
        yield
        return
    from prefect.concurrency.sync import concurrency

    with concurrency(name, occupy=1, strict=False):
        yield


def _limit_exists(name: str) -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return False
    return True


def model_slot(labeler: Any) -> AbstractContextManager[None]:
    """Hold a slot of the labeler's concurrency limit while its model is loaded."""
    from prefsmith.labelers.run_limits import model_limit

    return limit_slot(model_limit(labeler))


def retry_on_transient(task: Any, task_run: Any, state: Any) -> bool:
    """`retry_condition_fn`: retry a shard only when it failed on a transient error."""
    from prefsmith.labelers.run_limits import transient_reason

    error = state.data if isinstance(state.data, BaseException) else None
    if error is None:
        error = state.result(raise_on_failure=False)
    return isinstance(error, BaseException) and transient_reason(error) is not None


def accelerator_limit() -> str:
    """`prefsmith-train-cuda` where a GPU is visible, else `prefsmith-train-cpu`: the Prefect
    global concurrency limit a training run holds (when it exists on the server)."""
    import torch

    return f"prefsmith-train-{'cuda' if torch.cuda.is_available() else 'cpu'}"
