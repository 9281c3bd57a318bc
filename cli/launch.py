"""The `prefsmith` console script: the command runs in the warm process when one serves this
environment (`cli/warm_runner.py`: no Python start-up, no Prefect import), else here.

Module-level imports are the standard library only: this runs before anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import struct
import sys

from prefsmith.cli.warm_key import resolve, runner_dir


def _healthy(api: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"{api}/health", timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


def run_warm(argv: list[str]) -> int | None:
    """Run `prefsmith ARGV` in the warm process and return its exit code; None when there is
    no warm process for this environment (the caller runs the command itself)."""
    try:
        resolved = resolve(dict(os.environ))
        if resolved is None:
            return None
        key, api, _ = resolved
        path = runner_dir() / f"{key}.sock"
        if not path.exists() or not _healthy(api):
            return None
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        conn.settimeout(5.0)
        conn.connect(str(path))
        request = json.dumps({"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        socket.send_fds(conn, [struct.pack("!I", len(request))], [0, 1, 2])
        conn.sendall(request)
        reader = conn.makefile("rb")
        started = json.loads(reader.readline() or b"null")
    except (OSError, ValueError):
        return None  # a stale socket or a busy machine: run here
    if not isinstance(started, dict) or "pid" not in started:
        return None
    child = int(started["pid"])

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    conn.settimeout(None)
    while True:
        try:
            line = reader.readline()
            break
        except InterruptedError:
            continue
    try:
        return int(json.loads(line)["exit"])
    except (ValueError, KeyError, TypeError):
        return 1  # the warm process died under the command


def main() -> None:
    """Run `prefsmith` with this process's arguments."""
    code = run_warm(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    from prefsmith.cli.app import main as run_here

    run_here()


if __name__ == "__main__":
    main()
