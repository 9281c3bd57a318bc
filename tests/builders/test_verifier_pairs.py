"""A verifier's labels as material and as gold: `build preference --from verify-math[,judge]`
and `eval labelers --gold verify-math`, on an MT-Bench math question with four answers."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest

from prefsmith.schemas.records import Candidate, Label, load_json, to_table
from prefsmith.store import Store
from tests.cli_runner import run_json

QUESTIONS = Path(__file__).parents[2] / "data" / "prompts" / "mt_bench_questions.jsonl"
ANSWERS = {  # question 112: the startup invested $12,000 in total
    "right_short": "#### 12000",
    "right_long": "Year one is $8000 and year two half of it, $4000: $12,000 in all.\n#### 12000",
    "wrong_a": "The total is 16000",
    "wrong_b": "#### 4000",
}


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """The question, four answers labeled by verify-math, and a judge's verdicts on four
    pairs (one of them wrong: it prefers a wrong answer to a right one)."""
    store_dir = tmp_path / "store"
    run_json("ingest", "prompts", str(QUESTIONS), "--format", "mt-bench", "--store", str(store_dir))
    store = Store(store_dir)
    prompts = store.scan("prompts").select("prompt_id", "metadata").collect()
    prompt = next(p for p, m in prompts.iter_rows() if load_json(m)["source_id"] == 112)
    ids = {}
    for key, text in ANSWERS.items():
        ids[key] = Candidate(prompt, text, origin="generate:test").candidate_id
        store.write(
            "candidates", to_table("candidates", [Candidate(prompt, text, "generate:test")])
        )
    run_json("label", "--labeler", "verify-math", "--store", str(store_dir))
    verdicts = [  # (first, second, first wins?)
        ("right_long", "right_short", True),  # two right answers: only the judge can order them
        ("wrong_a", "right_short", True),  # the judge is wrong here
        ("wrong_b", "wrong_a", True),
        ("right_long", "wrong_b", True),
    ]
    labels = [
        Label("judge", "f" * 32, "pairwise", prompt, [ids[a], ids[b]], [1.0, 0.0] if win else [0.0, 1.0])
        for a, b, win in verdicts
    ]  # fmt: skip
    store.write("labels", to_table("labels", labels))
    store_dir.joinpath("ids").mkdir()
    for key, cid in ids.items():
        store_dir.joinpath("ids", key).write_text(cid)
    return store_dir


def _pairs(store_dir: Path, name: str) -> set[tuple[str, str]]:
    names = {p.read_text(): p.name for p in (store_dir / "ids").iterdir()}
    rows = pl.read_parquet(store_dir / "datasets" / name / "data" / "*.parquet")
    return {(names[c], names[r]) for c, r in rows.select("chosen_id", "rejected_id").iter_rows()}


def test_the_verifier_alone_pairs_a_right_answer_with_a_wrong_one(store_dir: Path) -> None:
    run_json("build", "preference", "--store", str(store_dir), "--from", "verify-math",
             "--name", "checked", "--pairs", "all")  # fmt: skip
    pairs = _pairs(store_dir, "checked")
    assert len(pairs) == 4
    assert all(c.startswith("right") and r.startswith("wrong") for c, r in pairs)


def test_the_verifier_decides_first_and_the_judge_orders_its_ties(store_dir: Path) -> None:
    summary = run_json("build", "preference", "--store", str(store_dir),
                       "--from", "verify-math,judge", "--name", "cascade")  # fmt: skip
    pairs = _pairs(store_dir, "cascade")
    assert ("right_long", "right_short") in pairs  # a tie for the verifier: the judge orders it
    assert ("right_short", "wrong_a") in pairs  # the judge said otherwise: overruled
    assert not any(c.startswith("wrong") for c, _ in pairs)  # never a wrong answer chosen
    assert summary["drops"]["tie_below_top"] == 1  # wrong_b vs wrong_a: no preference
    assert summary["rows"] == len(pairs) and summary["combine"] == "first"


def test_agree_is_still_there_when_asked(store_dir: Path) -> None:
    run_json("build", "preference", "--store", str(store_dir), "--from", "verify-math,judge",
             "--combine", "agree", "--name", "agreed")  # fmt: skip
    assert _pairs(store_dir, "agreed") == {("right_long", "wrong_b")}


def test_the_verifier_as_gold_scores_the_judge(store_dir: Path) -> None:
    report = run_json("eval", "labelers", "--store", str(store_dir), "--gold", "verify-math",
                      "--labelers", "judge")  # fmt: skip
    judge = report["labelers"]["judge"]
    assert report["gold_pairs"] == 4  # right vs wrong: 2 x 2; equal scores are no gold pair
    assert (judge["n"], judge["accuracy"]) == (2, 0.5)  # right on 1 of the 2 it judged
    assert judge["ci95"][0] <= 0.5 <= judge["ci95"][1]


def test_kto_and_reward_in_prompt_builds_take_verifier_scores(store_dir: Path) -> None:
    run_json("build", "preference", "--store", str(store_dir), "--from", "verify-math",
             "--pairs", "all", "--format", "kto", "--kto-threshold", "1", "--name", "kto")  # fmt: skip
    names = {p.read_text(): p.name for p in (store_dir / "ids").iterdir()}
    rows = pl.read_parquet(store_dir / "datasets" / "kto" / "data" / "*.parquet")
    texts = {answer: name for name, answer in ANSWERS.items()}
    labels = {texts[row["completion"][0]["content"]]: row["label"] for row in rows.to_dicts()}
    assert labels == {"right_short": True, "right_long": True, "wrong_a": False, "wrong_b": False}
    run_json("build", "reward-in-prompt", "--store", str(store_dir), "--rewards",
             "correct=verify-math", "--name", "rip")  # fmt: skip
    rows = pl.read_parquet(store_dir / "datasets" / "rip" / "data" / "*.parquet")
    reward = {
        names[row["candidate_id"]]: float(re.search(r"Correct reward: (\S+)<", row["prompt"])[1])
        for row in rows.to_dicts()
    }
    assert set(reward) == set(ANSWERS)
    assert reward["right_short"] == reward["right_long"] > reward["wrong_a"] == reward["wrong_b"]
