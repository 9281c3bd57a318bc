"""Where a labeling run's shards run, as a one-line spec: a CLI flag, a flow parameter or an
environment variable says it; this module parses and checks it with no Prefect imported
(runtime/task_runners.py makes the Prefect task runner).

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
from dataclasses import dataclass, field
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
        raise UserError(missing_package(parsed.kind))
    return parsed


def missing_package(kind: str) -> str:
    return f"the {kind} task runner needs {_PACKAGES[kind].replace('_', '-')}: " + (
        f"pip install 'prefsmith[{kind}]'"
    )
