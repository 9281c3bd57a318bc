"""Nothing lost to a flaky server, no secret kept: a judge against a server that misbehaves in
every way a proxy or an overloaded backend does, then heals; a wrong key that the server echoes;
two overlapping runs of one labeler; a killed run's work taken over; `--retry-errors`."""

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from cli_runner import runner
from fake_openai import FakeOpenAI, completion
from judge_store import make_store

from prefsmith.cli.app import app
from prefsmith.endpoints.chat_client import ChatClient
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.store import Store

GRADE = completion("Clear and correct.\nScore: 4")
FAULTS = [
    (200, b"<html><body>upstream busy</body></html>", "text/html"),
    (200, b'{"id": "x", "object": "chat.completion", "choices": [{"ind'),
    (200, b'{"unexpected": true}'),
    (429, {"error": {"message": "slow down"}}),
    (500, {"error": {"message": "internal"}}),
    ("slow", 3.0),  # past the 1-second timeout
    ("drop", None),
]


@pytest.fixture
def quick_retries(monkeypatch):
    """Retries back off for milliseconds instead of seconds."""
    monkeypatch.setattr(
        ChatClient, "__init__", functools.partialmethod(ChatClient.__init__, backoff=0.01)
    )


def label(store: Path, url: str, *extra: str):
    return runner.invoke(
        app,
        ["label", "--store", str(store), "--labeler", "judge", "--endpoint", url,
         "--model", "m", "--mode", "single", "--option", "timeout=1", "--json", *extra],
    )  # fmt: skip


def test_a_flaky_server_loses_nothing_and_the_run_after_it_heals_labels_every_item(
    store_dir, quick_retries
):
    state = {"healed": False, "next": 0}

    def reply(body):
        if state["healed"]:
            return 200, GRADE
        fault = FAULTS[state["next"] % len(FAULTS)]
        state["next"] += 1
        return fault

    stub = FakeOpenAI(reply)
    try:
        store = make_store(store_dir)
        first = label(store_dir, stub.url)
        assert first.exit_code == 0, first.output
        assert "Traceback" not in first.output
        assert store.summary()["tables"]["labels"] == 0  # nothing stored as final
        state["healed"] = True
        second = label(store_dir, stub.url)
        assert second.exit_code == 0 and '"labeled": 3' in second.stdout
    finally:
        stub.close()
    labels = Store(store_dir).scan("labels").collect()
    assert labels.height == 3 and labels["label_id"].n_unique() == 3
    assert labels["error"].null_count() == 3 and labels["scores"].to_list() == [[4.0]] * 3


def test_a_wrong_key_stops_the_run_keeps_no_secret_and_the_fixed_key_labels_everything(
    store_dir, monkeypatch
):
    wrong, right = "sk-proj-WRONGkey0123456789abcdef", "sk-proj-RIGHTkey0123456789abcdef"

    def reply(body, headers):
        if headers.get("authorization") == f"Bearer {right}":
            return 200, GRADE
        key = headers.get("authorization", "").removeprefix("Bearer ")
        message = f"Incorrect API key provided: {key}."
        return 401, {"error": {"message": message, "type": "invalid_request_error"}}

    stub = FakeOpenAI(reply, with_headers=True)
    try:
        make_store(store_dir)
        monkeypatch.setenv("OPENAI_API_KEY", wrong)
        refused = label(store_dir, stub.url)
        assert refused.exit_code == 2
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error:") and "HTTP 401" in lines[0], (
            refused.stderr[-3000:]
        )
        assert wrong not in refused.output and "check the API key" in lines[0]
        assert Store(store_dir).summary()["tables"]["labels"] == 0
        monkeypatch.setenv("OPENAI_API_KEY", right)
        fixed = label(store_dir, stub.url)
        assert fixed.exit_code == 0 and '"labeled": 3' in fixed.stdout
    finally:
        stub.close()
    for root in (store_dir, Path(os.environ["PREFECT_HOME"])):
        for path in root.rglob("*"):
            if path.is_file():
                assert wrong.encode() not in path.read_bytes(), path


def _slow_counting_server(delay: float = 0.2):
    def reply(body):
        time.sleep(delay)
        return 200, GRADE

    return FakeOpenAI(reply)


def test_two_overlapping_runs_of_one_labeler_compute_each_item_once(store_dir):
    stub = _slow_counting_server()
    try:
        make_store(store_dir)
        options = {"endpoint": stub.url, "model": "m", "mode": "single", "batch_size": 1}
        results = []

        def one_run():
            results.append(run_labeler(Store(store_dir), build_labeler("judge", options)))

        runs = [threading.Thread(target=one_run) for _ in range(2)]
        for run in runs:
            run.start()
        for run in runs:
            run.join()
    finally:
        stub.close()
    assert len(stub.calls) == 3  # three candidates, each asked once
    assert sorted(r["labeled"] for r in results) == [0, 3]
    assert sorted(r["cached"] for r in results) == [0, 3]


def test_a_killed_holder_s_work_is_taken_by_the_next_run(store_dir):
    stub = _slow_counting_server(delay=30.0)  # the holder hangs on its first request
    code = (
        "from prefsmith.labelers.registry import build_labeler\n"
        "from prefsmith.labelers.runner import run_labeler\n"
        "from prefsmith.store import Store\n"
        f"run_labeler(Store({str(store_dir)!r}), build_labeler('judge', {{'endpoint': "
        f"{stub.url!r}, 'model': 'm', 'mode': 'single', 'timeout': 60}}))\n"
    )
    make_store(store_dir)
    holder = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while not stub.calls and time.monotonic() < deadline:
            time.sleep(0.1)
        assert stub.calls, "the holder never asked the server"
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=10)
    finally:
        stub.close()
    healthy = FakeOpenAI(lambda body: (200, GRADE))
    try:
        options = {"endpoint": healthy.url, "model": "m", "mode": "single"}
        started = time.monotonic()
        summary = run_labeler(Store(store_dir), build_labeler("judge", options))
    finally:
        healthy.close()
    assert summary["labeled"] == 3 and time.monotonic() - started < 20


def test_retry_errors_asks_again_for_stored_final_errors_and_replaces_them(store_dir):
    answers = {"text": "I would rather not grade this."}
    stub = FakeOpenAI(lambda body: (200, completion(answers["text"])))
    try:
        make_store(store_dir)
        first = label(store_dir, stub.url, "--option", "parse_retries=0")
        assert '"errors_by_reason": {"unparseable": 3}' in first.stdout
        again = label(store_dir, stub.url)
        assert '"cached": 3' in again.stdout and len(stub.calls) == 3  # final: not asked again
        answers["text"] = "Fine.\nScore: 5"
        retried = label(store_dir, stub.url, "--retry-errors", "unparseable")
        assert retried.exit_code == 0 and '"labeled": 3' in retried.stdout
    finally:
        stub.close()
    labels = Store(store_dir).scan("labels").collect()
    assert labels.height == 3 and labels["error"].null_count() == 3  # no error left
    assert labels["scores"].to_list() == [[5.0]] * 3


@pytest.mark.parametrize(
    "secret",
    [
        "sk-proj-abcdefghijklmnop0123456789",  # OpenAI project key
        "sk-ant-api03-abcdefghijklmnop012345",  # Anthropic
        "hf_abcdefghijklmnopqrstuvwxyz012345",  # Hugging Face
        "Bearer eyJhbGciOiJIUzI1NiJ9.payload.signature",  # an Authorization header
        "api_key=s3cr3tv4lu3fromaurl",  # a key in a URL
    ],
)
def test_every_kind_of_key_is_scrubbed_from_error_texts(secret):
    from prefsmith.schemas.secrets import scrub

    text = f"upstream said: invalid credentials {secret} (request 42)"
    cleaned = scrub(text)
    value = secret.split("=", 1)[-1].removeprefix("Bearer ")
    assert value not in cleaned and "[REDACTED]" in cleaned and "(request 42)" in cleaned


def test_a_configured_key_of_any_shape_is_scrubbed(monkeypatch):
    from prefsmith.schemas.secrets import scrub

    monkeypatch.setenv("LABEL_STUDIO_API_KEY", "plainlookingtoken123")
    assert scrub("token plainlookingtoken123 rejected") == "token [REDACTED] rejected"
