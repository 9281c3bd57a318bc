"""The in-process transformers endpoint on a tiny random Llama: ChatClient's interface,
per-request sampling, first-token logprobs as a server returns them, weights identity."""

import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from prefsmith.endpoints import transformers_client
from prefsmith.endpoints.connect import (
    check_endpoint,
    endpoint_model,
    open_endpoint,
    weights_id,
)
from prefsmith.endpoints.shared_prefix import shared_prefix
from prefsmith.endpoints.transformers_client import TransformersClient
from prefsmith.schemas.errors import UserError

QUESTIONS = ["Hi!", "How do I bake bread at home?", "Name a colour.", "Why is the sky blue? " * 5]


def chats(questions=QUESTIONS):
    return [[{"role": "user", "content": q}] for q in questions]


def test_greedy_answers_are_deterministic_and_do_not_depend_on_the_batch(tiny_chat_model):
    client = TransformersClient(str(tiny_chat_model), batch_size=3, device="cpu")
    greedy = {"max_tokens": 6, "temperature": 0.0}
    first = client.chat_many([(m, greedy) for m in chats()])
    again = client.chat_many([(m, greedy) for m in chats()])
    assert [r.text for r in first] == [r.text for r in again]
    assert all(r.error is None and r.text for r in first)
    alone = TransformersClient(str(tiny_chat_model), batch_size=1, device="cpu")
    assert [alone.chat_many([(m, greedy)])[0].text for m in chats()] == [r.text for r in first]
    assert client.requests == 8 and first[0].usage["completion_tokens"] <= 6


def test_each_request_keeps_its_own_seed_and_budget(tiny_chat_model):
    client = TransformersClient(str(tiny_chat_model), batch_size=4, device="cpu")
    sampled = [{"max_tokens": 8, "temperature": 1.0, "top_p": 0.9, "seed": s} for s in (1, 2)]
    requests = [(chats()[1], sampled[0]), (chats()[1], sampled[1]), (chats()[0], sampled[0])]
    batched = client.chat_many(requests)
    assert batched[0].text != batched[1].text  # another seed, another sample
    assert client.chat_many([requests[0]])[0].text == batched[0].text  # alone: the same
    short = client.chat_many([(chats()[2], {**sampled[0], "max_tokens": 2})])[0]
    assert short.usage["completion_tokens"] <= 2
    assert short.finish_reason in ("stop", "length")


def test_first_token_logprobs_are_the_models_distribution(tiny_chat_model):
    client = TransformersClient(str(tiny_chat_model), batch_size=4, device="cpu")
    ask = {"max_tokens": 1, "temperature": 0.0, "logprobs": True, "top_logprobs": 5}
    results = client.chat_many([(m, ask) for m in chats()])
    for messages, result in zip(chats(), results, strict=True):
        table = result.top_logprobs
        assert 1 <= len(table) <= 5 and sum(math.exp(v) for v in table.values()) <= 1 + 1e-6
        assert table[result.text] == max(table.values())  # greedy took the likeliest
        ids = torch.tensor([client.encode(messages)])  # unpadded, alone: the reference
        with torch.inference_mode():
            expected = client.lm(ids).logits[0, -1].float().log_softmax(-1).topk(5)
        got = sorted(table.values(), reverse=True)
        assert got == pytest.approx(expected.values.tolist()[: len(got)], abs=1e-4)
    plain = client.chat_many([(chats()[0], {"max_tokens": 1, "temperature": 0.0})])[0]
    assert plain.top_logprobs is None  # only when asked for


def test_a_shared_prefix_is_computed_once_with_the_same_result(tiny_chat_model, monkeypatch):
    assert shared_prefix([[1, 2, 3, 4], [1, 2, 3, 5], [1, 2, 9]]) == 2
    assert shared_prefix([[1, 2, 3], [1, 2, 3, 4]]) == 2  # each row keeps a token of its own
    rubric = "Grade the answer below from 1 to 5, adding a point for each criterion. " * 8
    judged = chats([f"{rubric}\nAnswer: {a}" for a in ("Paris.", "I don't know.", "Lyon?")])
    ask = {"max_tokens": 3, "temperature": 0.0, "logprobs": True, "top_logprobs": 5}
    client = TransformersClient(str(tiny_chat_model), batch_size=3, device="cpu")
    assert shared_prefix([client.encode(m) for m in judged]) > 100
    shared = client.chat_many([(m, ask) for m in judged])
    monkeypatch.setattr(transformers_client, "MIN_SHARED_PREFIX", 10**9)
    plain = client.chat_many([(m, ask) for m in judged])
    assert [r.text for r in shared] == [r.text for r in plain]
    for a, b in zip(shared, plain, strict=True):
        assert a.top_logprobs.keys() == b.top_logprobs.keys()
        assert list(a.top_logprobs.values()) == pytest.approx(
            list(b.top_logprobs.values()), abs=1e-4
        )


def test_an_unsupported_option_or_a_too_long_prompt_is_that_requests_error(tiny_chat_model):
    client = TransformersClient(str(tiny_chat_model), device="cpu")
    results = client.chat_many(
        [
            (chats()[0], {"max_tokens": 4, "response_format": {"type": "json_object"}}),
            (chats(["word " * 1100])[0], {"max_tokens": 4}),  # the model holds 1024 positions
            (chats()[0], {"max_tokens": 4, "temperature": 0.0}),
        ]
    )
    assert results[0].error.startswith("unsupported: ") and "response_format" in results[0].error
    assert results[1].error.startswith("context_length: ")
    assert results[2].error is None and results[2].text


def test_endpoints_take_transformers_weights_and_name_them_by_content(tiny_chat_model, tmp_path):
    check_endpoint("transformers:bundled", None)
    check_endpoint(f"transformers:{tiny_chat_model}", None)
    with pytest.raises(UserError, match=r"checkpoint folder with config\.json or a \.gguf"):
        check_endpoint(f"transformers:{tmp_path / 'nothing'}", None)
    with pytest.raises(UserError, match="names its weights itself"):
        check_endpoint(f"transformers:{tiny_chat_model}", "gpt-x")
    with open_endpoint(f"transformers:{tiny_chat_model}", None, max_concurrency=2) as client:
        assert client.lm is None and client.batch_size == 2  # nothing asked: nothing loaded
        assert client.model == endpoint_model(f"transformers:{tiny_chat_model}", None)
    assert weights_id(None).startswith("SmolLM2-135M-Instruct.Q4_1@")  # the bundled GGUF
    copy = tmp_path / "copy"
    shutil.copytree(tiny_chat_model, copy)
    digest = weights_id(str(tiny_chat_model)).split("@")[1]
    assert weights_id(str(copy)) == f"copy@{digest}"  # where the weights lie doesn't count
    tensors = load_file(copy / "model.safetensors")
    tensors["model.norm.weight"] = tensors["model.norm.weight"] + 1.0
    save_file(tensors, copy / "model.safetensors", metadata={"format": "pt"})
    assert weights_id(str(copy)) != f"copy@{digest}"  # what they are does


GGUF_ANSWER = """
import json
from prefsmith.bundled import smollm2_gguf
from prefsmith.endpoints.transformers_client import TransformersClient, weights_id

client = TransformersClient(str(smollm2_gguf()), device="cpu")
(result,) = client.chat_many(
    [([{"role": "user", "content": "What is 2+2?"}], {"max_tokens": 8, "temperature": 0})]
)
print(json.dumps({"error": result.error, "text": result.text,
                  "same_id": client.model == weights_id(None)}))
"""


@pytest.mark.slow
def test_a_gguf_file_loads_and_answers():
    # In its own interpreter, as a CLI run meets it: inside the full suite, state left by an
    # earlier test once kept the embedding on the meta device (not seen in a fresh process).
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", GGUF_ANSWER], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["error"] is None and result["text"] and result["same_id"]
