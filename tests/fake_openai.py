"""A scripted stand-in for an OpenAI-compatible chat API on loopback: `reply(body)` decides
each answer as (HTTP status, JSON body or raw bytes[, content type]), ("slow", seconds) for a
late 200, or ("drop", None) to close the connection without an answer.
Every request body is kept in `calls`, its path and headers in `requests`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(text: str, top_logprobs: dict[str, float] | None = None) -> dict[str, Any]:
    """A chat.completion; with `top_logprobs`, the first token's alternatives as OpenAI sends them."""
    choice: dict[str, Any] = {
        "index": 0,
        "message": {"role": "assistant", "content": text},
        "finish_reason": "stop",
    }
    if top_logprobs is not None:
        first = max(top_logprobs, key=top_logprobs.get)
        tops = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top_logprobs.items()]
        choice["logprobs"] = {
            "content": [
                {
                    "token": first,
                    "logprob": top_logprobs[first],
                    "bytes": None,
                    "top_logprobs": tops,
                }
            ]
        }
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 0,
        "model": "stub",
        "choices": [choice],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


class QuietServer(ThreadingHTTPServer):
    """A client that hangs up (a cancelled request) is not the test's concern."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class FakeOpenAI:
    def __init__(
        self, reply: Callable[[dict[str, Any]], tuple[Any, Any]], with_headers: bool = False
    ) -> None:
        self.calls: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                stub.calls.append(body)
                stub.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, answer, *kind = reply(body, headers) if with_headers else reply(body)
                if status == "drop":  # the connection closes with no answer
                    self.close_connection = True
                    return
                if status == "slow":
                    time.sleep(answer)
                    status, answer = 200, completion("late")
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", kind[0] if kind else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self.server = QuietServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
