"""Prefect task runners from a one-line spec, so a CLI flag, a flow parameter or an
environment variable can say where the tasks of a flow run.

    threads              ThreadPoolTaskRunner in this process (the default)
    threads?workers=4    ... at most 4 tasks at once
    dask                 a temporary local Dask cluster (a process per core, one thread each);
                         with DASK_SCHEDULER_ADDRESS set, that scheduler instead
    dask?workers=2       ... with 2 worker processes (`threads=N`: threads per worker)
    dask://HOST:PORT     the running Dask scheduler at tcp://HOST:PORT (tcp:// and tls:// too)
    ray                  a temporary local Ray instance (or the one RAY_ADDRESS names)
    ray?workers=2        ... limited to 2 CPUs
    ray://HOST:PORT      the running Ray cluster at HOST:PORT (Ray client)

`None` or "" reads PREFSMITH_TASK_RUNNER, then falls back to threads. Dask and Ray
come from extras (`pip install 'prefsmith[dask]'`, `'prefsmith[ray]'`); a missing one
is a one-line UserError. See docs/scale-out.md.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from prefsmith.schemas.errors import UserError

ENV = "PREFSMITH_TASK_RUNNER"
KINDS = "threads, threads?workers=N, dask, dask?workers=N, dask://HOST:PORT, ray, ray://HOST:PORT"
_OPTIONS = {"threads": {"workers"}, "dask": {"workers", "threads"}, "ray": {"workers"}}
_PACKAGES = {"dask": "prefect_dask", "ray": "prefect_ray"}


@dataclass(frozen=True)
class RunnerSpec:
    """A parsed spec: `kind` (threads, dask, ray), a cluster `address` or local `options`."""

    kind: str
    address: str | None = None
    options: dict[str, int] = field(default_factory=dict)

    @property
    def local(self) -> bool:
        """True when the workers run on this machine: a cluster this process starts, or a
        scheduler at a loopback address."""
        if self.address is None:
            return True
        host = urlsplit(self.address).hostname
        return host in ("localhost", "::1") or (host or "").startswith("127.")


def parse_spec(spec: str | None) -> RunnerSpec:
    """`spec` (or PREFSMITH_TASK_RUNNER, or threads) as a RunnerSpec; UserError if malformed."""
    text = (spec or os.environ.get(ENV) or "threads").strip()
    where = f"task runner {text!r}"
    scheme, sep, rest = text.partition("://")
    if sep:
        if not rest or "?" in rest or "/" in rest.rstrip("/"):
            raise UserError(f"{where}: expected SCHEME://HOST:PORT; task runners: {KINDS}")
        host = rest.rstrip("/")
        if scheme in ("dask", "tcp", "tls"):
            return RunnerSpec("dask", f"{'tcp' if scheme == 'dask' else scheme}://{host}")
        if scheme == "ray":
            return RunnerSpec("ray", f"ray://{host}")
        raise UserError(f"unknown {where}; task runners: {KINDS}")
    kind, _, query = text.partition("?")
    if kind not in _OPTIONS:
        raise UserError(f"unknown {where}; task runners: {KINDS}")
    options: dict[str, int] = {}
    for pair in filter(None, query.split("&")):
        key, _, value = pair.partition("=")
        if key not in _OPTIONS[kind]:
            known = ", ".join(sorted(_OPTIONS[kind]))
            raise UserError(f"{where}: unknown option {key!r}; {kind} takes: {known}")
        if not value.isdigit() or int(value) < 1:
            raise UserError(f"{where}: {key} must be a whole number >= 1, not {value!r}")
        options[key] = int(value)
    return RunnerSpec(kind, None, options)


def check_scale_out(shards: int, spec: str | None) -> RunnerSpec:
    """UserError for a bad `shards` count or runner spec, or a runner whose package is
    missing; cheap (imports neither Prefect nor Dask), for checks before a flow starts."""
    if isinstance(shards, bool) or not isinstance(shards, int) or shards < 1:
        raise UserError(f"shards must be a whole number >= 1, not {shards!r}")
    parsed = parse_spec(spec)
    if parsed.kind in _PACKAGES and importlib.util.find_spec(_PACKAGES[parsed.kind]) is None:
        raise UserError(_missing(parsed.kind))
    return parsed


def _missing(kind: str) -> str:
    return f"the {kind} task runner needs {_PACKAGES[kind].replace('_', '-')}: " + (
        f"pip install 'prefsmith[{kind}]'"
    )


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
        raise UserError(_missing("dask")) from None
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
        raise UserError(_missing("ray")) from None
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
