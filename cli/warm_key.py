"""Where a warm runner is (`cli/warm_runner.py`): which one may run a command from an
environment, its socket folder, starting and stopping it. Standard library only: the entry
point reads this before anything else."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

SWITCH = "PREFSMITH_RUNNER"  # "off": every command in its own process
PACKAGE = Path(__file__).resolve().parents[1]


def _code_signature() -> str:
    """A hash of the package's source files (path, size, mtime): an edit changes it."""
    digest = hashlib.sha256()
    folders = [d for d in sorted(PACKAGE.iterdir()) if (d / "__init__.py").is_file()]
    files = [PACKAGE / "__init__.py", *(f for d in folders for f in sorted(d.glob("*.py")))]
    for path in files:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _defaulted_home(env: dict[str, str]) -> Path | None:
    """The PREFECT_HOME prefsmith chooses for this environment, or None where the user
    configured Prefect (the same test as `prefect_env.prefect_configured`)."""
    home = Path(env.get("HOME", str(Path.home())))
    if "PREFECT_HOME" in env or (home / ".prefect" / "profiles.toml").exists():
        return None
    data = env.get("XDG_DATA_HOME") or str(home / ".local" / "share")
    if sys.platform == "darwin":
        data = str(home / "Library" / "Application Support")
    return Path(data) / "prefsmith" / "prefect"


def resolve(env: dict[str, str]) -> tuple[str, str, Path | None] | None:
    """(key, Prefect API URL, defaulted PREFECT_HOME) of the warm process that may run a
    command from `env`; None where none may (switched off, ephemeral mode, no server yet)."""
    if env.get(SWITCH, "on") == "off" or os.name != "posix" or not hasattr(socket, "send_fds"):
        return None
    home = None
    api = env.get("PREFECT_API_URL")
    if not api:
        home = _defaulted_home(env)
        if home is None or env.get("PREFSMITH_PREFECT_SERVER", "on") == "off":
            return None
        try:
            api = json.loads((home / "prefsmith-server.json").read_text())["url"]
        except (OSError, ValueError, KeyError):
            return None
    prefect_env = sorted((k, v) for k, v in env.items() if k.startswith("PREFECT_"))
    identity = [sys.executable, _code_signature(), api, str(home), prefect_env]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16], api, home


def runner_dir() -> Path:
    """A private folder for the sockets (mode 700, this user's only)."""
    where = Path(os.environ.get("XDG_RUNTIME_DIR") or "/tmp") / f"prefsmith-{os.getuid()}"
    where.mkdir(mode=0o700, exist_ok=True)
    if where.stat().st_uid != os.getuid():
        raise PermissionError(f"{where} belongs to another user")
    return where


def start_in_background(original_env: dict[str, str]) -> None:
    """Start the warm process for `original_env` (the command's environment before prefsmith
    set Prefect's defaults), unless one serves it already."""
    resolved = resolve(original_env)
    if resolved is None:
        return
    key, api, home = resolved
    where = runner_dir()
    starting = where / f"{key}.starting"
    if (where / f"{key}.sock").exists():
        return
    if starting.exists() and time.time() - starting.stat().st_mtime < 120:
        return  # another command is starting it
    starting.write_text(str(os.getpid()))
    env = {**original_env, "PREFECT_API_URL": api}
    if home is not None:
        env["PREFECT_HOME"] = str(home)
    import subprocess

    with open(where / f"{key}.log", "ab") as log:
        subprocess.Popen(
            [sys.executable, "-m", "prefsmith.cli.warm_runner", key, api],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd="/",
        )


def stop_runners(api: str) -> int:
    """Stop this user's warm processes that run commands against the Prefect API `api`;
    how many were stopped."""
    stopped = 0
    for pid_file in runner_dir().glob("*.pid"):
        try:
            runner = json.loads(pid_file.read_text())
            if runner["api"] == api:
                os.kill(int(runner["pid"]), signal.SIGTERM)
                stopped += 1
        except (OSError, ValueError, KeyError, TypeError):
            pid_file.unlink(missing_ok=True)
    return stopped
