"""Clean datasets: benchmark decontamination (planted MT-Bench questions are dropped with their
ids, nothing else), near-duplicate prompts, PII placeholders, and the checks after tokenization."""

import json
import shutil
from collections import Counter
from pathlib import Path

import polars as pl
import pytest
from cli_runner import run_json, runner

from prefsmith.builders.near_duplicates import dropped_near_duplicates
from prefsmith.builders.pii import redact
from prefsmith.cli.app import app
from prefsmith.store import Store

DATA = Path(__file__).parents[1] / "data"
MT_BENCH = DATA / "mt_bench_questions_18.jsonl"


def _questions() -> dict[int, str]:
    rows = [json.loads(line) for line in MT_BENCH.read_text().splitlines()]
    return {row["question_id"]: row["turns"][0] for row in rows}


def _with_first_turn(line: str, text: str) -> str:
    row = json.loads(line)
    for side in ("chosen", "rejected"):
        _, _, rest = row[side].partition("\n\nAssistant:")
        row[side] = f"\n\nHuman: {text}\n\nAssistant:{rest}"
    return json.dumps(row)


NEAR = (
    "Can you explain, step by step and in plain words, how the heart pumps blood through "
    "the lungs and then around the whole body, and why a valve problem makes people tired?"
)
EMAIL, PHONE = "jane.doe@example.com", "+1 (415) 555-0132"


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """The hh slice with three MT-Bench questions planted in three first turns, three
    near-copies of one question (one word changed in two of them) and one e-mail address and
    one phone number; the slice itself has none of these (its max prompt Jaccard is 0.06)."""
    questions = _questions()
    verbatim = questions[81]
    recased = questions[82].upper().replace(".", "!!").replace(",", " ,;")
    words = questions[83].split()
    fragment = "I was wondering, " + " ".join(words[2:15]) + " and also my cat is sick."
    lines = (DATA / "hh_rlhf_harmless_test_120.jsonl").read_text().splitlines()[:60]
    lines[3] = _with_first_turn(lines[3], verbatim)
    lines[10] = _with_first_turn(lines[10], recased)
    lines[20] = _with_first_turn(lines[20], fragment)
    lines[30] = _with_first_turn(lines[30], NEAR)
    # copies of the whole dialogue: the prompt is every turn, so only a copy is near
    lines[31] = _with_first_turn(lines[30], NEAR.replace("lungs", "chest"))
    lines[32] = _with_first_turn(lines[30], NEAR.replace("tired", "weary"))
    lines[40] = _with_first_turn(lines[40], f"Email me at {EMAIL} or call {PHONE} about it.")
    root = tmp_path_factory.mktemp("planted")
    (root / "hh.jsonl").write_text("\n".join(lines) + "\n")
    store = root / "s"
    run_json("ingest", "hh-rlhf", str(root / "hh.jsonl"), "--store", str(store))
    run_json("ingest", "prompts", str(MT_BENCH), "--format", "mt-bench", "--store", str(store),
             "--source-name", "mt-bench")  # fmt: skip
    return store


def test_planted_benchmark_questions_are_dropped_with_their_ids_and_nothing_else(planted):
    plain = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                     "--name", "plain")  # fmt: skip
    clean = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                     "--name", "clean", "--decontaminate", "mt-bench")  # fmt: skip
    assert clean["drops"]["contaminated"] == 3
    assert plain["rows"] - clean["rows"] == 3
    side = (planted / "datasets" / "clean" / "contamination.jsonl").read_text().splitlines()
    found = sorted(tuple(json.loads(line)["benchmark_ids"]) for line in side)
    assert found == [("mt-bench:81",), ("mt-bench:82",), ("mt-bench:83",)]
    manifest = json.loads((planted / "datasets" / "clean" / "manifest.json").read_text())
    assert manifest["drops"]["contaminated"] == 3
    assert "| contaminated | 3 |" in (planted / "datasets" / "clean" / "README.md").read_text()

    check = run_json("check", "contamination", "--store", str(planted), "--dataset", "plain",
                     "--against", "mt-bench")  # fmt: skip
    assert check["contaminated"] == 3 and set(check["benchmark_ids"]) == {
        "mt-bench:81", "mt-bench:82", "mt-bench:83"
    }  # fmt: skip
    again = run_json("check", "contamination", "--store", str(planted), "--dataset", "clean",
                     "--against", str(MT_BENCH))  # fmt: skip
    assert again["contaminated"] == 0


def test_bundled_benchmarks_resolve_by_name_in_a_store_without_them(planted, tmp_path):
    """`--decontaminate mt-bench,vicuna` as docs/datasets.md shows it, on a store that never
    ingested a benchmark: the bundled sets are found by name."""
    bare = tmp_path / "bare"
    shutil.copytree(planted, bare)
    shutil.rmtree(bare / "prompts")  # keep the hh prompts only: no mt-bench source left
    parts = sorted((planted / "prompts").rglob("*.parquet"))
    prompts = pl.concat([pl.read_parquet(p) for p in parts]).filter(pl.col("source") != "mt-bench")
    Store(bare).write("prompts", prompts.to_arrow())
    assert "mt-bench" not in set(Store(bare).scan("prompts").collect()["source"])
    clean = run_json("build", "preference", "--store", str(bare), "--from", "human:hh-rlhf",
                     "--name", "clean-bundled", "--decontaminate", "mt-bench,vicuna")  # fmt: skip
    assert clean["drops"]["contaminated"] == 3
    check = run_json("check", "contamination", "--store", str(bare), "--dataset",
                     "clean-bundled", "--against", "mt-bench")  # fmt: skip
    assert check["contaminated"] == 0
    result = runner.invoke(app, ["build", "preference", "--store", str(bare), "--from",
                                 "human:hh-rlhf", "--name", "x", "--decontaminate", "nope"])  # fmt: skip
    assert result.exit_code != 0 and "bundled benchmark (mt-bench, vicuna)" in result.output


def test_near_copies_cluster_and_the_most_labeled_prompt_is_kept():
    base = (
        "Explain how a refrigerator keeps food cold using the refrigeration cycle and a compressor"
    )
    texts = {
        "p1": base,
        "p2": base.replace("food", "milk"),  # a word changed
        "p3": base.replace("refrigerator", "fridge"),
        "p4": "Write a haiku about the first snow of winter falling on a quiet mountain village",
    }
    dropped = dropped_near_duplicates(texts, 0.6, {"p3": 5, "p1": 2})
    assert dropped == {"p1": "p3", "p2": "p3"}
    assert dropped_near_duplicates(texts, 0.6, {}) == {"p2": "p1", "p3": "p1"}  # ties: by id


def test_near_duplicate_prompts_are_a_drop_reason(planted):
    summary = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                       "--name", "dedup", "--dedup-near", "0.5")  # fmt: skip
    manifest = json.loads((planted / "datasets" / "dedup" / "manifest.json").read_text())
    assert summary["drops"]["near_duplicate"] == 2  # the planted cluster of three keeps one
    assert manifest["drops"]["near_duplicate"] == 2
    card = (planted / "datasets" / "dedup" / "README.md").read_text()
    assert "| near_duplicate | 2 |" in card


PII = {
    "Write to jane.doe+news@example.co.uk today.": "Write to <EMAIL> today.",
    "Call me at +1 (415) 555-0132 tonight.": "Call me at <PHONE> tonight.",
    "Or 020 7946 0958 in London.": "Or <PHONE> in London.",
    "The server is 192.168.10.20 behind the proxy.": "The server is <IP_ADDRESS> behind the proxy.",
    "Pay with 4111 1111 1111 1111 please.": "Pay with <CREDIT_CARD> please.",
    "My key is sk-proj-abcdefghijklmnopqrstuvwx1234 ok": "My key is <SECRET> ok",
    "AWS AKIAIOSFODNN7EXAMPLE leaked": "AWS <SECRET> leaked",
    # look-alikes that must survive
    "Upgrade to v1.2.3 or 3.11.7 before 2024-01-15.": "Upgrade to v1.2.3 or 3.11.7 before 2024-01-15.",
    "Order 1234 5678 9012 3456 shipped.": "Order 1234 5678 9012 3456 shipped.",
    "Pi is 3.14159 and e is 2.71828.": "Pi is 3.14159 and e is 2.71828.",
    "In 2019 we had 1200 users; call 555-0132.": "In 2019 we had 1200 users; call 555-0132.",
    "ISBN 978-3-16-148410-0 is a book.": "ISBN 978-3-16-148410-0 is a book.",
}


@pytest.mark.parametrize(("text", "expected"), PII.items())
def test_pii_is_replaced_by_typed_placeholders_and_look_alikes_survive(text, expected):
    assert redact(text) == expected


def test_redact_pii_counts_each_type_in_the_card(planted, tmp_path):
    counts = Counter()
    redact("a@b.io and c@d.io, 4111111111111111", counts)
    assert counts == {"email": 2, "credit_card": 1}
    summary = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                       "--name", "redacted", "--redact-pii")  # fmt: skip
    # the planted address and number, in the prompt of one pair: once in each of its rows'
    # prompt (a pair row carries its prompt once)
    assert summary["pii_redacted"] == {"email": 1, "phone": 1}
    card = (planted / "datasets" / "redacted" / "README.md").read_text()
    for kind, count in summary["pii_redacted"].items():
        assert f"| {kind} | {count} |" in card
    data = "".join(p.read_text() for p in (planted / "datasets" / "redacted").rglob("*.jsonl"))
    rows = pl.concat(
        [pl.read_parquet(p) for p in (planted / "datasets" / "redacted").rglob("*.parquet")]
    )
    text = data + rows.write_ndjson()
    assert EMAIL not in text and PHONE not in text and "<EMAIL>" in text


def test_pairs_identical_after_truncation_and_prompts_over_budget_are_dropped(
    tmp_path, tiny_chat_model
):
    from prefsmith.builders.datasets import build_preference
    from prefsmith.schemas.builds import PreferenceBuildConfig
    from prefsmith.schemas.records import Candidate, Label, Prompt, to_table
    from prefsmith.store import Store

    store = Store(tmp_path / "s")
    same_start = "The answer begins the same way for many words " * 8
    short = Prompt(messages=[{"role": "user", "content": "Say something."}], source="t")
    long = Prompt(messages=[{"role": "user", "content": "word " * 400}], source="t")
    candidates = [
        Candidate(short.prompt_id, same_start + "then says yes.", "t"),
        Candidate(short.prompt_id, same_start + "then says no.", "t"),
        Candidate(long.prompt_id, "Yes.", "t"),
        Candidate(long.prompt_id, "No.", "t"),
    ]
    store.write("prompts", to_table("prompts", [short, long]))
    store.write("candidates", to_table("candidates", candidates))
    labels = [
        Label("h", "fp", "pairwise", c1.prompt_id, [c1.candidate_id, c2.candidate_id], [1.0, 0.0])
        for c1, c2 in (candidates[:2], candidates[2:])
    ]
    store.write("labels", to_table("labels", labels))
    config = {"from_labelers": ["h"], "splits": {"train": 1.0}}
    loose = build_preference(store, PreferenceBuildConfig(name="loose", **config))
    assert loose["rows"] == 2
    with pytest.raises(
        Exception, match=r"identical_after_truncation.*prompt_too_long|prompt_too_long.*identical"
    ):
        build_preference(
            store,
            PreferenceBuildConfig(
                name="tight", tokenizer=str(tiny_chat_model), max_length=64, **config
            ),
        )
    wide = build_preference(
        store,
        PreferenceBuildConfig(
            name="wide", tokenizer=str(tiny_chat_model), max_length=256, **config
        ),
    )
    assert wide["rows"] == 1 and wide["drops"] == {"prompt_too_long": 1}
    rows = pl.read_parquet(tmp_path / "s" / "datasets" / "wide" / "data" / "*.parquet")
    assert rows.height == 1


def test_train_dpo_leaves_out_pairs_a_max_length_makes_useless(tiny_chat_model):
    from datasets import Dataset
    from transformers import AutoTokenizer

    from prefsmith.finetune.policy import _learnable_pairs

    tokenizer = AutoTokenizer.from_pretrained(tiny_chat_model)
    same = "The same long beginning for both answers, word after word " * 6
    rows = Dataset.from_list(
        [
            {"prompt": [{"role": "user", "content": "Hi?"}],
             "chosen": [{"role": "assistant", "content": "Hello there."}],
             "rejected": [{"role": "assistant", "content": "Go away."}]},
            {"prompt": [{"role": "user", "content": "Hi?"}],
             "chosen": [{"role": "assistant", "content": same + "yes"}],
             "rejected": [{"role": "assistant", "content": same + "no"}]},
            {"prompt": [{"role": "user", "content": "word " * 200}],
             "chosen": [{"role": "assistant", "content": "A."}],
             "rejected": [{"role": "assistant", "content": "B."}]},
        ]
    )  # fmt: skip
    kept, dropped = _learnable_pairs(rows, tokenizer, 64)
    assert len(kept) == 1 and kept[0]["chosen"][0]["content"] == "Hello there."
    assert dropped == {"identical_after_truncation": 1, "prompt_too_long": 1}


def test_max_length_bias_drops_longer_chosen_pairs_down_to_the_ceiling(planted):
    base = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                    "--name", "biased")  # fmt: skip
    capped = run_json("build", "preference", "--store", str(planted), "--from", "human:hh-rlhf",
                      "--name", "capped", "--max-length-bias", "0.3")  # fmt: skip
    assert base["length_bias"] > 0.3 >= capped["length_bias"]
    dropped = capped["drops"]["length_rebalance"]
    assert capped["rows"] == base["rows"] - dropped
    longer = round(base["length_bias"] * base["rows"])
    assert (longer - dropped) / (base["rows"] - dropped) <= 0.3
    assert (longer - dropped + 1) / (base["rows"] - dropped + 1) > 0.3  # no more than needed


def test_kto_rows_take_their_label_from_a_score_threshold(hh_datasets):
    summary = run_json("build", "preference", "--store", str(hh_datasets.root), "--from",
                       "rm-helpful", "--name", "kto", "--format", "kto", "--kto-threshold", "3")  # fmt: skip
    rows = pl.read_parquet(hh_datasets.root / "datasets" / "kto" / "data" / "*.parquet")
    scores = {
        r["candidate_ids"][0]: r["scores"][0]
        for r in hh_datasets.scan("labels").collect().filter(labeler="rm-helpful").to_dicts()
    }
    assert rows.height == summary["rows"] > 0
    for row in rows.to_dicts():
        assert row["label"] == (scores[row["candidate_id"]] >= 3)
        assert row["completion"][0]["role"] == "assistant"
