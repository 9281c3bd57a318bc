"""The chat client against a scripted local HTTP server: retries on 429/5xx/timeouts only."""

import pytest
from fake_openai import FakeOpenAI, completion

from prefsmith.endpoints.chat_client import ChatClient

OK = completion("hello")


@pytest.fixture
def scripted():
    """Each request for user message X gets the next reply scripted for X (the last one repeats)."""
    scripts: dict[str, list] = {}

    def reply(body):
        queue = scripts[body["messages"][-1]["content"]]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    stub = FakeOpenAI(reply)
    yield stub.url, scripts, stub
    stub.close()


def test_every_request_ends_answered_or_with_a_reason(scripted):
    url, scripts, stub = scripted
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
    assert by_key["bad-request"].error.startswith("prompt_too_long: context too long")
    assert by_key["garbage"].error.startswith("bad_response")  # transient: retried
    assert by_key["slow"].error.startswith("timeout")
    seen = [call["messages"][-1]["content"] for call in stub.calls]
    assert seen.count("bad-request") == 1  # a 400 is not retried
    assert seen.count("always-500") == 3  # first try + 2 retries
