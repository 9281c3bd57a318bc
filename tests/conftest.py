"""Shared fixtures. Prefect runs in ephemeral mode with its database in a temp dir."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
HH_SLICE = DATA / "hh_rlhf_harmless_test_120.jsonl"
MT_BENCH_SLICE = DATA / "mt_bench_questions_18.jsonl"
MT_BENCH_REFERENCES = DATA / "mt_bench_references.jsonl"

# Before anything imports prefect: a private, throwaway Prefect home for the test session.
os.environ.setdefault("PREFECT_HOME", tempfile.mkdtemp(prefix="prefsmith-test-prefect-"))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # CliRunner closes the streams it lends
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
# Each test's commands run in their own process; tests/runtime turns the warm runner on.
os.environ.setdefault("PREFSMITH_RUNNER", "off")
# The test session starts flows, as the CLI's entry point does: the same Prefect defaults.
from prefsmith.runtime.prefect_env import configure_prefect  # noqa: E402

configure_prefect()


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def write_jsonl(tmp_path: Path):
    """Write rows (dicts, or raw bytes/str lines) to a JSONL file and return its path."""
    import json

    def write(name: str, rows: list) -> Path:
        path = tmp_path / name
        with open(path, "wb") as handle:
            for row in rows:
                if isinstance(row, bytes):
                    handle.write(row + b"\n")
                elif isinstance(row, str):
                    handle.write(row.encode() + b"\n")
                else:
                    handle.write(json.dumps(row).encode() + b"\n")
        return path

    return write


os.environ.setdefault("PREFSMITH_CACHE", str(Path.home() / ".cache" / "prefsmith-tests"))


@pytest.fixture(scope="session")
def tiny_chat_model(tmp_path_factory) -> Path:
    """A 1-layer random Llama with SmolLM2's real tokenizer and chat template (no Hub)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from prefsmith.bundled import smollm2_tokenizer

    tokenizer = AutoTokenizer.from_pretrained(smollm2_tokenizer())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=1024,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-chat-model")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def llama_server():
    """A real llama.cpp server with the bundled SmolLM2-135M-Instruct GGUF, for the session."""
    from prefsmith.endpoints.local_server import LocalServer

    with LocalServer(n_ctx=2048) as server:
        yield server


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory) -> Path:
    """A 1-layer random BERT with all-MiniLM-L6-v2's real tokenizer (a tiny reward-model base)."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from prefsmith.bundled import minilm_dir

    tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        max_position_embeddings=512,
    )
    import torch

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny-encoder")
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture
def hh_datasets(store_dir):
    """A store with the hh-rlhf test slice and two datasets built from it: `hh` (preference,
    conversational, train/test) and `hh-rip` (reward-in-prompt from two synthetic score labelers)."""
    from prefsmith.builders.datasets import build_preference, build_reward_in_prompt
    from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
    from prefsmith.schemas.builds import PreferenceBuildConfig, RewardInPromptBuildConfig
    from prefsmith.schemas.records import Label, to_table
    from prefsmith.store import Store

    store = Store(store_dir)
    ingest_hh_jsonl(HH_SLICE, store, source_key="k", source_name="hh-rlhf:harmless-base-test")
    splits = {"train": 0.8, "test": 0.2}
    build_preference(
        store, PreferenceBuildConfig(name="hh", from_labelers=["human:hh-rlhf"], splits=splits)
    )
    rows = store.scan("candidates").select("prompt_id", "candidate_id", "content").collect()
    labels = [
        Label(name, f"fp-{name}", "score", pid, [cid], [float(len(text) % k)])
        for name, k in (("rm-helpful", 7), ("rm-harmless", 5))
        for pid, cid, text in rows.iter_rows()
    ]
    store.write("labels", to_table("labels", labels))
    rewards = {"helpful": "rm-helpful", "harmless": "rm-harmless"}
    build_reward_in_prompt(
        store, RewardInPromptBuildConfig(name="hh-rip", rewards=rewards, splits=splits)
    )
    return store


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory):
    """A real Label Studio 1.23 server (own venv) for the session; LABEL_STUDIO_* set for it."""
    from label_studio_server import start_label_studio

    cache = Path(os.environ["PREFSMITH_CACHE"])
    server = start_label_studio(tmp_path_factory.mktemp("label-studio"), cache)
    saved = {k: os.environ.get(k) for k in ("LABEL_STUDIO_URL", "LABEL_STUDIO_API_KEY")}
    os.environ.update(LABEL_STUDIO_URL=server.url, LABEL_STUDIO_API_KEY=server.token)
    yield server
    server.stop()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
