"""prefect.yaml against a real Prefect server: `prefect deploy --all` creates every deployment
with its schedule, and a process worker runs one to completion in the store.

Everything is a real process on loopback: `prefect server start` (own PREFECT_HOME and SQLite
file under tmp), the Prefect CLI, and `prefect worker start --run-once`. A fresh database takes
the server ~20 s of migrations on 2 cores, so the first session keeps a copy of the migrated,
still empty database under the test cache (one per Prefect version) and later ones start from it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
HH_SLICE = "tests/data/hh_rlhf_harmless_test_120.jsonl"  # relative: resolved on the worker
CACHE = Path(os.environ.get("PREFSMITH_CACHE", Path.home() / ".cache" / "prefsmith-tests"))
DB_TEMPLATE = CACHE / f"prefect-{importlib.metadata.version('prefect')}-server.db"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrefectServer:
    """`prefect server start` on a free loopback port, with everything it writes under `home`."""

    def __init__(self, home: Path) -> None:
        self.home, self.port = home, _free_port()
        self.db = home / "prefect.db"
        self.api = f"http://127.0.0.1:{self.port}/api"
        self.log = home / "server.log"
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("PREFECT_", "PREFSMITH_")) and k != "VIRTUAL_ENV"
        }
        self.env.update(
            PREFECT_HOME=str(home / "prefect"),
            PREFECT_API_URL=self.api,
            PREFECT_SERVER_DATABASE_CONNECTION_URL=f"sqlite+aiosqlite:///{self.db}",
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
            PREFECT_SERVER_UI_ENABLED="false",
            # Schedules are registered but not turned into runs, so the worker below finds
            # only the run this test creates (annotate-pull's first run would be due now).
            PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED="false",
            PREFECT_LOGGING_LEVEL="INFO",
            PREFECT_CLI_COLORS="false",
        )
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> PrefectServer:
        if DB_TEMPLATE.is_file():
            shutil.copyfile(DB_TEMPLATE, self.db)
        command = [BIN / "prefect", "server", "start", "--host", "127.0.0.1"]
        command += ["--port", str(self.port)]
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"prefect server exited {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.get("/health") is True:
                    self._keep_template()
                    return self
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        pytest.fail(f"prefect server not healthy after {timeout:.0f} s:\n{self.log_tail()}")

    def _keep_template(self) -> None:
        """A consistent copy of the just-migrated database (sqlite's online backup)."""
        if DB_TEMPLATE.is_file():
            return
        DB_TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
        partial = DB_TEMPLATE.with_suffix(f".{os.getpid()}.tmp")
        source, copy = sqlite3.connect(self.db), sqlite3.connect(partial)
        try:
            source.backup(copy)
        finally:
            source.close()
            copy.close()
        partial.replace(DB_TEMPLATE)

    def stop(self) -> None:
        _stop(self.process)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def get(self, path: str):
        with urllib.request.urlopen(self.api + path, timeout=10) as response:
            return json.load(response)

    def post(self, path: str, body: dict):
        request = urllib.request.Request(
            self.api + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> str:
        """Run the Prefect CLI from the repository root; its output, or the test fails."""
        done = subprocess.run(
            [BIN / "prefect", *args],
            cwd=ROOT,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        output = done.stdout + done.stderr
        if done.returncode != 0:
            pytest.fail(f"prefect {' '.join(args)} exited {done.returncode}:\n{output[-4000:]}")
        return output


def _stop(process: subprocess.Popen | None) -> None:
    """Stop a process started in its own session, and whatever it started."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@pytest.fixture
def prefect_server(tmp_path: Path):
    server = PrefectServer(tmp_path).start()
    try:
        yield server
    finally:
        server.stop()


def _declared() -> dict[str, dict]:
    """prefect.yaml's deployments by name (YAML anchors already resolved by the parser)."""
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    return {d["name"]: d for d in spec["deployments"]}


def _schedule(declared: dict) -> dict:
    """The part of a declared schedule that the server echoes back."""
    if "cron" in declared:
        return {"cron": declared["cron"], "timezone": declared.get("timezone")}
    return {"interval": float(declared["interval"])}


@pytest.mark.slow
@pytest.mark.prefect
def test_deploy_all_and_run_on_a_process_worker(prefect_server: PrefectServer, tmp_path: Path):
    server, store = prefect_server, tmp_path / "store"
    declared = _declared()
    entrypoints = {d["entrypoint"] for d in declared.values()}
    for entrypoint in entrypoints:
        path, function = entrypoint.split(":")
        assert re.search(rf"^def {function}\(", (ROOT / path).read_text(), re.M), entrypoint

    pools = {d["work_pool"]["name"] for d in declared.values()}
    creating = [
        subprocess.Popen(
            [BIN / "prefect", "work-pool", "create", pool, "--type", "process"],
            env=server.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for pool in sorted(pools)
    ]
    for process in creating:
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, output

    # Deploy with PREFSMITH_STORE set and PREFSMITH_HOME unset: the store is baked into the
    # parameters, the working directory is left for each worker to fill in.
    server.cli("--no-prompt", "deploy", "--all", env={**server.env, "PREFSMITH_STORE": str(store)})

    deployments = {d["name"]: d for d in server.post("/deployments/filter", {})}
    assert set(deployments) == set(declared)
    for name, spec in declared.items():
        deployed = deployments[name]
        assert deployed["entrypoint"] == spec["entrypoint"]
        assert deployed["work_pool_name"] == spec["work_pool"]["name"]
        expected = {
            k: str(store) if v == "{{ $PREFSMITH_STORE }}" else v
            for k, v in spec["parameters"].items()
        }
        assert deployed["parameters"] == expected, name
        # The flow's signature as `prefect deploy` read it: every parameter is one of the
        # flow's, and every required one is given, so a scheduled run can start unattended.
        schema = deployed["parameter_openapi_schema"]
        assert set(expected) <= set(schema["properties"]), (name, schema["properties"])
        assert set(schema.get("required", [])) <= set(expected), (name, schema["required"])
        assert deployed["pull_steps"] == [
            {
                "prefect.deployments.steps.set_working_directory": {
                    "directory": "{{ $PREFSMITH_HOME }}"
                }
            }
        ]
        schedules = [
            {k: s["schedule"].get(k) for k in _schedule(s["schedule"])}
            for s in deployed["schedules"]
        ]
        assert schedules == [_schedule(s) for s in spec.get("schedules", [])], name

    nightly = {n: deployments[n]["schedules"] for n in deployments if n.endswith("-nightly")}
    assert {
        "ingest-prompts-nightly",
        "generate-nightly",
        "label-nightly",
        "pipeline-nightly",
    } <= set(nightly)
    assert all(len(s) == 1 and s[0]["schedule"]["cron"] for s in nightly.values()), nightly
    assert all(s[0]["active"] for s in nightly.values())
    (pull,) = deployments["annotate-pull"]["schedules"]
    assert pull["schedule"]["interval"] == 900 and pull["active"]

    # As `prefect deployment run ingest-hh-rlhf/ingest-hh-rlhf --param config=...` does: the
    # parameter is the run config's `ingest: hh_rlhf:` entry.
    ingest = deployments["ingest-hh-rlhf"]["id"]
    config = {"source": HH_SLICE}
    flow_run_id = server.post(
        f"/deployments/{ingest}/create_flow_run", {"parameters": {"config": config}}
    )["id"]

    # The worker's environment names the checkout; the pull step makes it the working
    # directory of the flow run, so the relative source above is found there.
    worker_log = tmp_path / "worker.log"
    with open(worker_log, "wb") as log:
        worker = subprocess.Popen(
            [BIN / "prefect", "worker", "start", "--pool", "prefsmith-local", "--run-once"],
            cwd=tmp_path,
            env={**server.env, "PREFSMITH_HOME": str(ROOT)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        worker.wait(timeout=180)
    finally:
        _stop(worker)
    flow_run = server.get(f"/flow_runs/{flow_run_id}")
    log_text = worker_log.read_text(errors="replace")[-4000:]
    assert flow_run["state"]["type"] == "COMPLETED", log_text
    assert flow_run["parameters"] == {"config": config, "store": str(store)}

    status = subprocess.run(
        [BIN / "prefsmith", "status", "--store", str(store), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    summary = json.loads(status.stdout)
    assert summary["tables"]["prompts"] == 119  # 120 rows, one rejected (empty answer)
    assert summary["tables"]["candidates"] == 238
    assert summary["labels_by_labeler"] == {"human:hh-rlhf": 119}
    assert summary["rejects_by_reason"] == {"empty_answer": 1}
