"""A llama.cpp OpenAI-compatible server on loopback: the embedded default endpoint.

with LocalServer() as server:          # the bundled SmolLM2-135M-Instruct GGUF
    client = ChatClient(server.base_url, model=server.model_name)
"""

from __future__ import annotations

import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from prefsmith.schemas.errors import UserError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LocalServer:
    """`llama_cpp.server` in a child process, on 127.0.0.1, stopped on exit."""

    def __init__(
        self, model: str | None = None, port: int | None = None, n_ctx: int = 4096
    ) -> None:
        if model is None:
            from prefsmith.bundled import smollm2_gguf

            model = str(smollm2_gguf())
        if not Path(model).is_file():
            raise UserError(f"--model {model}: no such GGUF file")
        self.model, self.port, self.n_ctx = Path(model), port or free_port(), n_ctx
        self.model_name = self.model.name.removesuffix(".gguf")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, timeout: float = 120.0) -> LocalServer:
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            raise UserError(
                "the local server needs llama-cpp-python: pip install 'prefsmith[serve]'"
            ) from None
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(self.model), "--host", "127.0.0.1",
            "--port", str(self.port), "--n_ctx", str(self.n_ctx), "--model_alias", self.model_name,
        ]  # fmt: skip
        # A log file, not a pipe: llama.cpp writes a lot, and an unread pipe would block it.
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="prefsmith-llama-", suffix=".log", delete=False
        )
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                tail = Path(self.log.name).read_text(errors="replace").strip().splitlines()[-3:]
                raise UserError(
                    f"the llama.cpp server stopped at start: {' | '.join(tail)} (log: {self.log.name})"
                )
            try:
                with urllib.request.urlopen(f"{self.base_url}/models", timeout=2) as reply:
                    if reply.status == 200:
                        return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise UserError(f"the llama.cpp server did not answer within {timeout:.0f} s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self.log.close()
            Path(self.log.name).unlink(missing_ok=True)
        self.process = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
