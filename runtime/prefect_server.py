"""One local Prefect server, started on demand and reused by every later command.

Prefect's ephemeral mode starts a temporary API server inside each process that runs a flow:
on 2 cores that is most of a short command's 18-20 s. Instead, the first command of a
machine with no Prefect configuration starts `prefect server start` on 127.0.0.1 in the
background (its database and log under PREFECT_HOME), records where it listens, and prints
its UI address; later commands find it there and point PREFECT_API_URL at it, so every run is
in one UI and a command costs its own work. `prefsmith prefect stop` stops it;
`PREFSMITH_PREFECT_SERVER=off` keeps Prefect's ephemeral mode.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

STATE_FILE = "prefsmith-server.json"
LOG_FILE = "prefsmith-server.log"
STARTUP_SECONDS = 90.0


@dataclass(frozen=True)
class ServerInfo:
    """A running local server: its process and API address."""

    pid: int
    url: str

    @property
    def ui(self) -> str:
        return self.url.removesuffix("/api")


def _state_path(home: Path) -> Path:
    return home / STATE_FILE


def healthy(url: str, timeout: float = 2.0) -> bool:
    """True when the Prefect API at `url` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(home: Path) -> ServerInfo | None:
    """The server this PREFECT_HOME started, if it still runs and answers."""
    try:
        state = json.loads(_state_path(home).read_text())
        info = ServerInfo(pid=int(state["pid"]), url=str(state["url"]))
    except (OSError, ValueError, KeyError):
        return None
    if _alive(info.pid) and healthy(info.url):
        return info
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(home: Path) -> ServerInfo:
    """Start `prefect server start` in the background for `home` and wait until it answers."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    command = [
        sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
        "--port", str(port),
    ]  # fmt: skip
    with open(home / LOG_FILE, "ab") as log:
        process = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,  # outlives this command; Ctrl-C here does not stop it
        )  # fmt: skip
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited; see {home / LOG_FILE}")
        if healthy(url, timeout=1.0):
            info = ServerInfo(pid=process.pid, url=url)
            tmp = _state_path(home).with_suffix(".tmp")
            tmp.write_text(json.dumps({"pid": info.pid, "url": info.url}))
            tmp.replace(_state_path(home))
            return info
        time.sleep(0.25)
    process.terminate()
    raise RuntimeError(f"the Prefect server did not answer in {STARTUP_SECONDS:.0f} s")


def ensure_server(home: Path) -> tuple[ServerInfo, bool]:
    """The running server of `home`, or a new one: (server, started now)."""
    found = running_server(home)
    if found is not None:
        return found, False
    return start_server(home), True


def stop_server(home: Path) -> ServerInfo | None:
    """Stop the server `home` started (None if there is none)."""
    found = running_server(home)
    if found is None:
        _state_path(home).unlink(missing_ok=True)
        return None
    os.killpg(found.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    while _alive(found.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    _state_path(home).unlink(missing_ok=True)
    return found
