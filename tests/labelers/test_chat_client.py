"""The chat client against a scripted local HTTP server: retries on 429/5xx/timeouts only."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from prefsmith.labelers.chat_client import ChatClient

OK = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
      "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
      "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}}  # fmt: skip


@pytest.fixture
def scripted():
    """A server answering each request for user message X with the next reply scripted for X."""
    scripts: dict[str, list] = {}
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            key = body["messages"][-1]["content"]
            seen.append(key)
            status, reply = scripts[key].pop(0) if len(scripts[key]) > 1 else scripts[key][0]
            if status == "slow":
                time.sleep(reply)
                status, reply = 200, OK
            data = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/v1", scripts, seen
    server.shutdown()


def test_every_request_ends_answered_or_with_a_reason(scripted):
    url, scripts, seen = scripted
    scripts.update(
        {
            "rate-limited-then-ok": [(429, {"error": "slow down"}), (200, OK)],
            "server-error-then-ok": [(500, {"error": "oops"}), (503, {"error": "busy"}), (200, OK)],
            "always-500": [(500, {"error": "down"})],
            "bad-request": [(400, {"error": {"message": "context too long"}})],
            "garbage": [(200, b"{not json")],
            "slow": [("slow", 3.0)],
        }
    )
    client = ChatClient(url, "m", max_retries=2, backoff=0.01, timeout=1.0, max_concurrency=3)
    results = client.chat_many(
        [([{"role": "user", "content": key}], {"max_tokens": 4}) for key in scripts]
    )
    by_key = dict(zip(scripts, results, strict=True))
    assert (
        by_key["rate-limited-then-ok"].text == "hello"
        and by_key["rate-limited-then-ok"].usage["total_tokens"] == 4
    )
    assert by_key["server-error-then-ok"].text == "hello"
    assert by_key["always-500"].error.startswith("server_error")
    assert by_key["bad-request"].error.startswith("http_400")
    assert by_key["garbage"].error is not None
    assert by_key["slow"].error.startswith("timeout")
    assert seen.count("bad-request") == 1  # a 400 is not retried
    assert seen.count("always-500") == 3  # first try + 2 retries
