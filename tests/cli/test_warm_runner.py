"""The warm runner: after the first flow command, later commands run in a forked child of a
process that has Prefect and the CLI imported, with the command's own working directory,
environment, terminal and exit code. Real processes in a fresh HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import HH_SLICE

from prefsmith.cli.warm_key import resolve

PREFSMITH = Path(sys.executable).parent / "prefsmith"


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(PREFSMITH), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_no_warm_runner_where_it_is_switched_off_or_runs_are_ephemeral(tmp_path):
    base = {"HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data")}
    assert resolve({**base, "PREFSMITH_RUNNER": "off", "PREFECT_API_URL": "http://h/api"}) is None
    assert resolve({**base, "PREFSMITH_PREFECT_SERVER": "off"}) is None
    assert resolve(base) is None  # no local server yet
    key, api, home = resolve({**base, "PREFECT_API_URL": "http://h/api"})
    assert api == "http://h/api" and home is None and len(key) == 16
    assert resolve({**base, "PREFECT_API_URL": "http://other/api"})[0] != key


@pytest.mark.prefect
@pytest.mark.slow
def test_later_commands_run_warm_with_their_own_cwd_env_and_exit_code(tmp_path):
    home, work, runtime = tmp_path / "home", tmp_path / "work", tmp_path / "run"
    work.mkdir()
    runtime.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PREFSMITH_"))}
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_RUNTIME_DIR": str(runtime)}  # fmt: skip
    try:
        first = _run(env, work, "ingest", "hh-rlhf", str(HH_SLICE), "--store", "s", "--limit", "5")
        assert first.returncode == 0, first.stderr[-2000:]
        sockets = runtime / f"prefsmith-{os.getuid()}"
        deadline = time.monotonic() + 120
        while not list(sockets.glob("*.sock")) and time.monotonic() < deadline:
            time.sleep(0.5)
        (log,) = sockets.glob("*.log")
        assert list(sockets.glob("*.sock")), log.read_text()

        built = _run(env, work, "build", "preference", "--store", "s", "--name", "p", "--json")
        assert built.returncode == 0, built.stderr[-2000:]
        assert json.loads(built.stdout.splitlines()[-1])["rows"] == 5
        assert (work / "s" / "datasets" / "p" / "manifest.json").is_file()  # the command's cwd
        assert "pid " in log.read_text() and "prefsmith build preference" in log.read_text()

        wrong = _run(env, work, "build", "preference", "--store", "s", "--splits", "train=2")
        assert wrong.returncode == 2 and "error: --splits:" in wrong.stderr
        assert "prefsmith build preference --store s --splits train=2" in log.read_text()
        assert "served pid" in log.read_text() and "exit 2" in log.read_text()

        seen = _run(env, work, "prefect", "status", "--json")
        assert seen.returncode == 0 and json.loads(seen.stdout)["running"]
        assert len(list(sockets.glob("*.log"))) == 1  # the commands it ran started no other
    finally:
        stopped = _run(env, work, "prefect", "stop", "--json")
    assert json.loads(stopped.stdout)["warm_runners_stopped"] >= 1
    deadline = time.monotonic() + 30
    while list(sockets.glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not list(sockets.glob("*.sock"))
