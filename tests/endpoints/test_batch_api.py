"""The Batch API path: requests go out as one uploaded JSONL and one batch, in the shapes the
`openai` package sends; results come back through the same parsing and fingerprint as online;
and a client SIGKILLed after the upload, after the batch's creation or in the middle of
collecting ends, after reruns, with every item labeled once and no batch submitted twice."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from fake_openai import completion
from fake_openai_batches import FakeBatchAPI
from judge_store import make_store

from prefsmith.endpoints.batch_records import BatchRecords
from prefsmith.labelers.registry import build_labeler
from prefsmith.labelers.runner import run_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json

MODEL = "gpt-4o-mini"


def scored(body):
    answer = completion("Clear and correct.\nScore: 4")
    answer["usage"] = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}
    return 200, answer


def options(url, **extra):
    return {"endpoint": url, "model": MODEL, "mode": "single", "batch": True, **extra}


def label(store, url, **extra):
    return run_labeler(store, build_labeler("judge", options(url, **extra)))


@pytest.fixture
def api():
    stub = FakeBatchAPI(scored)
    yield stub
    stub.close()


def test_a_batch_is_submitted_in_openai_s_shapes_and_collected_like_online_labels(store_dir, api):
    store = make_store(store_dir)
    submitted = label(store, api.url)
    assert (submitted["labeled"], submitted["batch_pending"], submitted["errors"]) == (0, 3, 0)
    assert store.count("labels") == 0 and len(submitted["batch"]["batches_submitted"]) == 1
    # The upload: multipart with purpose=batch and a JSONL of chat-completion requests.
    _, _, headers, form = next(entry for entry in api.log if entry[1] == "/v1/files")
    assert headers["content-type"].startswith("multipart/form-data")
    assert headers["authorization"].startswith("Bearer ")
    assert form["purpose"] == (None, b"batch")
    lines = [json.loads(line) for line in form["file"][1].decode().splitlines()]
    assert {(line["method"], line["url"]) for line in lines} == {("POST", "/v1/chat/completions")}
    assert all(line["body"]["model"] == MODEL and line["body"]["messages"] for line in lines)
    assert len({line["custom_id"] for line in lines}) == 3
    _, _, _, create = next(entry for entry in api.log if entry[1] == "/v1/batches")
    assert create["endpoint"] == "/v1/chat/completions" and create["completion_window"] == "24h"
    assert create["metadata"]["prefsmith_submission"].startswith("sub-")
    # Still running: the next run sends nothing new.
    waiting = label(store, api.url)
    assert waiting["batch_pending"] == 3 and api.count("POST", "/v1/batches") == 1
    api.finish()
    collected = label(store, api.url)
    assert (collected["labeled"], collected["cached"]) == (3, 0)
    online = build_labeler("judge", options(api.url, batch=False))
    labels = store.scan("labels").collect().to_dicts()
    assert {label["fingerprint"] for label in labels} == {online.fingerprint()}
    assert all(label["scores"] == [4.0] for label in labels)
    assert collected["cost_usd"] == pytest.approx(3 * (100 * 0.15 + 10 * 0.6) / 1e6 * 0.5)
    assert label(store, api.url)["cached"] == 3 and api.count("POST", "/v1/batches") == 1


def test_expired_and_rejected_requests(store_dir):
    rejected = {"error": {"message": "This model's maximum context length is 10 tokens"}}
    replies = iter([(200, scored(None)[1]), (400, rejected)])
    api = FakeBatchAPI(lambda body: next(replies))
    try:
        store = make_store(store_dir)
        label(store, api.url)
        api.finish(status="expired", answered=2)  # the third request never ran
        partial = label(store, api.url)
        assert partial["labeled"] == 1 and partial["errors_by_reason"] == {"prompt_too_long": 1}
        assert partial["batch_pending"] == 1 and len(partial["batch"]["batches_submitted"]) == 1
        api.reply = scored
        api.finish()
        assert label(store, api.url)["labeled"] == 1
    finally:
        api.close()
    assert store.count("labels") == 3


def test_a_failed_batch_is_submitted_again(store_dir, api):
    store = make_store(store_dir)
    label(store, api.url)
    api.fail()
    again = label(store, api.url)
    assert again["batch_pending"] == 3 and api.count("POST", "/v1/batches") == 2
    statuses = [record["state"] for record in BatchRecords(store.root).all()]
    assert statuses == ["failed", "submitted"]


def test_batch_needs_a_batch_api_endpoint():
    with pytest.raises(UserError, match="Batch API"):
        build_labeler("judge", {"endpoint": "local", "batch": True})


CLIENT = textwrap.dedent(
    """
    import sys
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler
    from prefsmith.store import Store
    options = {"endpoint": sys.argv[2], "model": "gpt-4o-mini", "mode": "single", "batch": True}
    run_labeler(Store(sys.argv[1]), build_labeler("judge", options))
    """
)


def killed_while(api, step, store_dir):
    """Run the labeling in a child process and SIGKILL it while the server holds `step`."""
    api.hang_on, api.hung = step, type(api.hung)()
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    child = subprocess.Popen([sys.executable, "-c", CLIENT, str(store_dir), api.url], env=env)
    try:
        assert api.hung.wait(timeout=120), f"the client never reached {step}"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    api.hang_on = None


@pytest.mark.parametrize("step", ["files.create", "batches.create"])
def test_killed_while_submitting_a_rerun_submits_no_second_batch(store_dir, api, step):
    store = make_store(store_dir)
    killed_while(api, step, store_dir)
    assert store.count("labels") == 0
    resumed = label(store, api.url)  # finds the file (or the batch) the dead run made
    assert resumed["batch_pending"] == 3
    assert api.count("POST", "/v1/files") == 1 and len(api.batches) == 1
    api.finish()
    assert label(store, api.url)["labeled"] == 3
    _every_item_labeled_once(store, api)


def test_killed_while_collecting_a_rerun_collects_the_same_batch(store_dir, api):
    store = make_store(store_dir)
    label(store, api.url)
    api.finish()
    killed_while(api, "files.content", store_dir)
    assert store.count("labels") == 0
    assert label(store, api.url)["labeled"] == 3
    _every_item_labeled_once(store, api)


def _every_item_labeled_once(store, api):
    labels = store.scan("labels").collect()
    assert labels.height == 3 and labels["label_id"].n_unique() == 3
    assert len(api.batches) == 1 and api.count("POST", "/v1/batches") == 1
    assert all(load_json(d)["usage"]["prompt_tokens"] == 100 for d in labels["details"])


def test_the_critic_and_generation_go_through_batches_too(store_dir):
    from judge_store import GOOD

    from prefsmith.endpoints.batch_client import BatchClient
    from prefsmith.generation.candidates import generate_candidates

    critique = {"positive": [GOOD[:15]], "negative": []}

    def reply(body):  # generation asks with a seed per sample
        text = f"Sample {body['seed']}." if "seed" in body else json.dumps(critique)
        return 200, completion(text)

    api = FakeBatchAPI(reply)
    try:
        store = make_store(store_dir)
        critic = {"endpoint": api.url, "model": MODEL, "batch": True}
        assert run_labeler(store, build_labeler("critic", critic))["batch_pending"] == 3
        sampling = {"temperature": 0.7, "max_tokens": 20, "seed": 0}
        client = BatchClient(str(store_dir), api.url, MODEL, job={"command": "generate"})
        queued = generate_candidates(store, client, n=2, sampling=sampling)
        client.close()
        assert queued["generated"] == 0 and queued["errors_by_reason"] == {"batch_pending": 2}
        assert len(api.batches) == 2
        api.finish()
        critiqued = run_labeler(store, build_labeler("critic", critic))
        assert critiqued["labeled"] == 3
        client = BatchClient(str(store_dir), api.url, MODEL, job={"command": "generate"})
        made = generate_candidates(store, client, n=2, sampling=sampling)
        assert (made["generated"], made["errors"]) == (2, 0)
    finally:
        api.close()
    spans = [load_json(d)["spans"] for d in store.scan("labels").collect()["details"]]
    assert sum(len(s) for s in spans) == 1  # the quote is located in the good answer only


def test_a_submission_another_process_holds_is_left_to_it(store_dir, api):
    """`batches status`, the hourly collector or a second shard never submit a submission
    that a live process is submitting (the kernel's lock on it); once that process is gone,
    the next run takes it over and looks for what it made."""
    store = make_store(store_dir)
    records = BatchRecords(store.root)
    line = {"custom_id": "k1", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}}  # fmt: skip
    sid = records.new_id([line])
    with records.claim(sid):
        records.new(sid, [line], {"command": "label"}, api.url, 0.0)
        label(store, api.url)  # queues its own requests, but leaves the held one alone
        assert api.count("POST", "/v1/files") == 1  # its own upload only
        assert [r["state"] for r in records.all()] == ["prepared", "submitted"]
    label(store, api.url)  # the holder is gone: taken over, once
    assert api.count("POST", "/v1/files") == 2 and len(api.batches) == 2


def test_a_refused_upload_is_one_line_and_leaves_nothing_half_done(store_dir, api):
    from cli_runner import runner

    from prefsmith.cli.app import app

    make_store(store_dir)
    api.refuse["files.create"] = 401
    args = ["label", "--store", str(store_dir), "--labeler", "judge", "--endpoint", api.url,
            "--model", MODEL, "--mode", "single", "--batch"]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "refused a Batch API call (HTTP 401)" in result.output
    assert "Traceback" not in result.output
    assert [r["state"] for r in BatchRecords(store_dir).all()] == ["failed"]
    status = runner.invoke(app, ["batches", "status", "--store", str(store_dir), "--json"])
    assert status.exit_code == 0 and api.count("POST", "/v1/files") == 1  # status sends nothing


def test_a_request_no_batch_can_answer_becomes_a_final_error(store_dir):
    api = FakeBatchAPI(lambda body: (500, {"error": {"message": "overloaded"}}))
    try:
        store = make_store(store_dir)
        for _ in range(3):
            label(store, api.url)
            api.finish()
        final = label(store, api.url)
    finally:
        api.close()
    assert final["errors_by_reason"] == {"batch_failed": 3} and len(api.batches) == 3
    assert store.count("labels") == 3


def test_a_filtered_answer_is_a_failure_and_final_after_three_batches(store_dir):
    """HTTP 200 with no usable answer (a content filter) is not asked again in paid batches
    forever: it counts as a failed batch, and after MAX_FAILURES the label is a final error."""
    filtered = {
        "id": "chatcmpl-x", "object": "chat.completion", "created": 0, "model": MODEL,
        "choices": [{"index": 0, "finish_reason": "content_filter",
                     "message": {"role": "assistant", "content": None}}],
    }  # fmt: skip
    api = FakeBatchAPI(lambda body: (200, filtered))
    try:
        store = make_store(store_dir)
        for _ in range(3):
            label(store, api.url)
            api.finish()
        final = label(store, api.url)
        again = label(store, api.url)
    finally:
        api.close()
    assert final["errors_by_reason"] == {"batch_failed": 3} and len(api.batches) == 3
    errors = store.scan("labels").collect()["error"].to_list()
    assert all("finish_reason content_filter" in e for e in errors)
    assert again["labeled"] == 0 and len(api.batches) == 3  # final: no fourth batch


def test_batch_generation_with_several_samples_needs_a_seed():
    from prefsmith.schemas.run_config import GenerateConfig

    with pytest.raises(ValueError, match="needs a seed"):
        GenerateConfig(endpoint="https://x/v1", model=MODEL, n=2, seed=None, batch=True)
