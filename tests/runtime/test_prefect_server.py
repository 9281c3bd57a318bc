"""With no Prefect configured, the first command starts one local Prefect server and prints its
UI address, later commands reuse it, every run is recorded there, and `prefsmith prefect stop`
stops it. Real processes, as a user runs them, in a fresh HOME."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from conftest import HH_SLICE

PREFSMITH = Path(sys.executable).parent / "prefsmith"


def _prefsmith(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([str(PREFSMITH), *args], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.prefect
@pytest.mark.slow
def test_commands_share_one_local_server_and_every_run_is_recorded(tmp_path):
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    (tmp_path / "run").mkdir(mode=0o700)
    env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
            "XDG_RUNTIME_DIR": str(tmp_path / "run")}  # fmt: skip
    store = str(tmp_path / "store")
    try:
        first = _prefsmith(env, "ingest", "hh-rlhf", str(HH_SLICE), "--store", store,
                           "--limit", "5", "--json")  # fmt: skip
        assert "prefect: started a local server for every run: http://127.0.0.1:" in first.stderr
        status = json.loads(_prefsmith(env, "prefect", "status", "--json").stdout)
        assert status["running"] and status["ui"].startswith("http://127.0.0.1:")
        second = _prefsmith(env, "build", "preference", "--store", store, "--name", "p", "--json")
        assert "started a local server" not in second.stderr  # found, not started again
        assert (
            json.loads(_prefsmith(env, "prefect", "status", "--json").stdout)["pid"]
            == status["pid"]
        )
        request = urllib.request.Request(
            f"{status['ui']}/api/flow_runs/filter", data=b"{}", method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            runs = json.loads(response.read())
        assert sorted(
            (r["name"], r["state_type"]) for r in runs if r["name"].startswith("build")
        ) == [("build-preference", "COMPLETED")]
        assert len([r for r in runs if r["state_type"] == "COMPLETED"]) == 2

        # `run` imports a flow module for its pre-flight checks, before the server is found:
        # its runs still go to the server, not to a temporary one.
        config = tmp_path / "run.yaml"
        config.write_text(f"store: {store}\ningest:\n  hh_rlhf:\n    - source: {HH_SLICE}\n"
                          "      limit: 3\nreport: {enabled: false}\n")  # fmt: skip
        ran = _prefsmith(env, "run", str(config), "--json")
        assert "temporary server" not in ran.stderr
        with urllib.request.urlopen(request, timeout=30) as response:
            after = json.loads(response.read())
        assert len([r for r in after if r["state_type"] == "COMPLETED"]) >= 4  # pipeline, ingest
    finally:
        stopped = json.loads(_prefsmith(env, "prefect", "stop", "--json").stdout)
    assert stopped["stopped"]
    assert not json.loads(_prefsmith(env, "prefect", "status", "--json").stdout)["running"]
