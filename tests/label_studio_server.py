"""A real Label Studio server for the tests, from its own venv (.ls-venv, made by
scripts/setup_label_studio.sh), on a free loopback port with a throwaway data dir.

The first start ever migrates a fresh data dir (~40 s) and keeps it as a template
under the test cache; every later session copies the template and starts in ~5 s.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LABEL_STUDIO = ROOT / ".ls-venv" / "bin" / "label-studio"
VERSION = "1.23.2"
ADMIN, PASSWORD, TOKEN = (
    "admin@prefsmith.test",
    "prefsmith-test-pw",
    "prefsmith-test-token-0123456789",
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("USERNAME", "PASSWORD", "HOST", "PORT")}
    env.update(
        LABEL_STUDIO_BASE_DATA_DIR=str(data_dir),
        LABEL_STUDIO_USERNAME=ADMIN,
        LABEL_STUDIO_PASSWORD=PASSWORD,
        LABEL_STUDIO_USER_TOKEN=TOKEN,
        LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN="true",
        LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK="true",
        LATEST_VERSION_CHECK="false",
        COLLECT_ANALYTICS="false",
        SENTRY_DSN="",
        FRONTEND_SENTRY_DSN="",
    )
    return env


class LabelStudioServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir, self.port = data_dir, _free_port()
        self.url, self.token = f"http://127.0.0.1:{self.port}", TOKEN
        self.log_path = data_dir.parent / f"{data_dir.name}.log"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 180.0) -> LabelStudioServer:
        command = [
            str(LABEL_STUDIO), "start", "--no-browser", "--internal-host", "127.0.0.1",
            "--port", str(self.port),
        ]  # fmt: skip
        log = open(self.log_path, "ab")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(
            command, env=_environment(self.data_dir), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"Label Studio stopped at start:\n{tail}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"Label Studio did not answer within {timeout:.0f} s ({self.log_path})")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
        self.process = None


def start_label_studio(work: Path, cache: Path) -> LabelStudioServer:
    """A server on a copy of the migrated template data dir (made once)."""
    if not LABEL_STUDIO.is_file():
        raise RuntimeError(
            f"{LABEL_STUDIO} is missing: run scripts/setup_label_studio.sh (scripts/test.sh does)"
        )
    template = cache / f"label-studio-{VERSION}-data"
    if not (template / "label_studio.sqlite3").is_file():
        staging = cache / f".staging-{os.getpid()}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        LabelStudioServer(staging).start().stop()
        shutil.rmtree(template, ignore_errors=True)
        staging.rename(template)
    data_dir = work / "label-studio-data"
    shutil.copytree(template, data_dir)
    return LabelStudioServer(data_dir).start()
