"""Generation against a real llama.cpp server with the bundled SmolLM2 GGUF."""

from pathlib import Path

import pytest

from prefsmith.endpoints.chat_client import ChatClient
from prefsmith.generation.candidates import generate_candidates
from prefsmith.ingest.prompt_sets import check_prompt_source, ingest_prompt_rows
from prefsmith.ingest.sources import iter_file
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store

MT_BENCH = Path(__file__).parents[1] / "data" / "mt_bench_questions_18.jsonl"


@pytest.mark.slow
def test_n_candidates_per_prompt_multi_turn_kept_and_a_rerun_asks_nothing(store_dir, llama_server):
    store = Store(store_dir)
    checked = check_prompt_source(source=str(MT_BENCH), format="mt-bench", limit=3)
    source, plan = checked.files[0]
    rows = (row for _, row in zip(range(3), iter_file(source), strict=False))
    ingest_prompt_rows(rows, store, plan, source_key="k", source_name="mt")
    sampling = {"temperature": 0.8, "top_p": 0.95, "max_tokens": 8, "seed": 1}
    client = ChatClient(llama_server.base_url, llama_server.model_name, max_concurrency=2)
    summary = generate_candidates(store, client, n=2, sampling=sampling)
    assert (summary["generated"], summary["errors"], summary["cached"]) == (6, 0, 0)
    candidates = store.scan("candidates").collect().to_dicts()
    assert {c["origin"] for c in candidates} == {summary["origin"]}
    assert "temperature=0.8" in summary["origin"] and llama_server.model_name in summary["origin"]
    # MT-Bench questions have two turns: turn 1 answered, turn 2 asked and answered, both kept.
    assert all(
        len(c["extra_turns"]) == 2 and c["extra_turns"][0]["role"] == "user" for c in candidates
    )
    assert summary["requests"] == 12
    again_client = ChatClient(llama_server.base_url, llama_server.model_name)
    again = generate_candidates(store, again_client, n=2, sampling=sampling)
    assert (again["generated"], again["cached"], again_client.requests) == (0, 6, 0)
    more = generate_candidates(
        store, ChatClient(llama_server.base_url, llama_server.model_name), n=3, sampling=sampling
    )
    assert (more["generated"], more["cached"]) == (3, 6)


def test_identical_samples_are_refused_up_front(store_dir):
    with pytest.raises(UserError, match="temperature 0"):
        generate_candidates(
            Store(store_dir),
            ChatClient("http://127.0.0.1:9/v1", "m"),
            n=2,
            sampling={"temperature": 0},
        )
