"""A warm process that runs `prefsmith` commands, so a command pays neither Python's start-up
nor Prefect's import (2-3 s on 2 cores) each time.

The first command that starts a flow against a Prefect API (the shared local server, or the
team's own `PREFECT_API_URL`) starts this process in the background. It imports Prefect, the
CLI and the flow modules once, then waits on a Unix socket. A later `prefsmith` command sends
it its arguments, working directory, environment and its own stdin/stdout/stderr (the file
descriptors themselves); the warm process forks, and the child runs the command exactly as the
command's own process would, writing to the user's terminal. The command waits for the child's
exit code; Ctrl-C is passed on to the child. A fork has no threads to lose: the warm process
never runs a flow itself (checked before it serves).

It serves one code version and one Prefect API (both are in the socket's name), stops after
`IDLE_SECONDS` without a command and with `prefsmith prefect stop`, and `PREFSMITH_RUNNER=off`
keeps every command in its own process. Module-level imports are the standard library only:
the `prefsmith` entry point reads this module before anything else.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time

from prefsmith.cli.warm_key import runner_dir

IDLE_SECONDS = 15 * 60
PRELOAD = (
    "prefect",
    "prefsmith.cli.app",
    "prefsmith.flows.annotate",
    "prefsmith.flows.build",
    "prefsmith.flows.export",
    "prefsmith.flows.finetune",
    "prefsmith.flows.generate",
    "prefsmith.flows.ingest",
    "prefsmith.flows.label",
    "prefsmith.flows.pipeline",
    "matplotlib.figure",  # dataset cards: plots, a Jinja template
    "matplotlib.backends.backend_agg",
    "jinja2",
    "pandas",  # pyarrow imports it when it converts Python rows
    "pyarrow.parquet",
)


def send_message(conn: socket.socket, message: dict) -> None:
    """One JSON line to the other side."""
    conn.sendall(json.dumps(message).encode() + b"\n")


def _recv_request(conn: socket.socket) -> tuple[dict, list[int]]:
    head, fds, _, _ = socket.recv_fds(conn, 4, 3)
    (size,) = struct.unpack("!I", head)
    body = b""
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ConnectionError("the command went away")
        body += chunk
    return json.loads(body), list(fds)


def _refresh_consoles() -> None:
    """Rich consoles made at import decided colours for the warm process's log file; decide
    again for the user's terminal."""
    from prefsmith.cli import common
    from prefsmith.runtime import progress

    for console in (common.stdout, common.errors, progress.stderr):
        console._color_system = console._detect_color_system()


def _run_child(request: dict, fds: list[int]) -> None:
    """In the forked child: become the command's own process, run it, exit with its code."""
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    import random

    random.seed()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    sys.argv = ["prefsmith", *request["argv"]]
    code = 0
    try:
        from prefsmith.runtime.prefect_env import forget

        forget()  # the warm process's own Prefect defaults are not this command's
        _refresh_consoles()
        from prefsmith.cli.app import main

        main()
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
        code = 1
    finally:
        import atexit

        atexit._run_exitfuncs()  # what the interpreter does at exit: Prefect sends its last logs
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
    os._exit(code)


def _reap(children: dict[int, socket.socket]) -> None:
    """Tell each command whose child has exited its exit code."""
    while children:
        pid, status = os.waitpid(-1, os.WNOHANG)
        if pid == 0:
            return
        conn = children.pop(pid)
        code = os.waitstatus_to_exitcode(status)
        code = 128 - code if code < 0 else code  # killed by a signal: the shell's code
        with contextlib.suppress(OSError):
            send_message(conn, {"exit": code})
        conn.close()
        print(f"served pid {pid}: exit {code}", flush=True)


def _accept(listener: socket.socket, children: dict[int, socket.socket]) -> None:
    """Take one command and fork the child that runs it."""
    conn, _ = listener.accept()
    try:
        conn.settimeout(5.0)
        request, fds = _recv_request(conn)
    except (OSError, ValueError):
        conn.close()
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        for other in (listener, conn, *children.values()):
            other.close()
        _run_child(request, fds)
    for fd in fds:
        os.close(fd)
    print(f"pid {pid}: prefsmith {' '.join(request['argv'])}", flush=True)
    send_message(conn, {"pid": pid})
    children[pid] = conn


def serve(key: str, api: str) -> None:
    """Preload, then fork a child per command until idle for IDLE_SECONDS."""
    import importlib
    import threading

    from prefsmith.runtime.prefect_env import configure_prefect

    configure_prefect()
    for name in PRELOAD:
        importlib.import_module(name)
    if threading.active_count() != 1:  # a fork would lose those threads' locks
        raise SystemExit(f"warm runner: {threading.active_count()} threads after preloading")
    where = runner_dir()
    path, tmp = where / f"{key}.sock", where / f".{key}.{os.getpid()}.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(tmp))
    listener.listen(16)
    tmp.rename(path)
    (where / f"{key}.pid").write_text(json.dumps({"pid": os.getpid(), "api": api}))
    (where / f"{key}.starting").unlink(missing_ok=True)
    print(f"warm runner {key}: serving on {path}", flush=True)
    children: dict[int, socket.socket] = {}
    last = time.monotonic()
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while children or not (stopping or time.monotonic() - last >= IDLE_SECONDS):
            if stopping and listener.fileno() != -1:  # no new commands; finish the running ones
                listener.close()
                path.unlink(missing_ok=True)
            waiting = [listener] if listener.fileno() != -1 else []
            ready, _, _ = select.select(waiting, [], [], 0.2)
            _reap(children)
            if ready:
                _accept(listener, children)
                last = time.monotonic()
    finally:
        path.unlink(missing_ok=True)
        (where / f"{key}.pid").unlink(missing_ok=True)
        listener.close()


if __name__ == "__main__":
    key = sys.argv[1]
    try:
        serve(key, sys.argv[2])
    finally:
        (runner_dir() / f"{key}.starting").unlink(missing_ok=True)
