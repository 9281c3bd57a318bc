"""`ingest labels` and the round trip a user makes with it: an LLMBar-layout gold set, another
tool's verdicts for both presentation orders imported as two labelers, and `eval labelers`
reproducing that tool's per-order accuracy, subset by subset, as exact counts."""

import polars as pl
from cli_runner import run_json, runner

from prefsmith.cli.app import app
from prefsmith.store import Store

SUBSETS = {"Natural": 5, "Adversarial/Neighbor": 4, "Adversarial/GPTOut": 3}


def gold_rows() -> list[dict]:
    rows = []
    for subset, count in SUBSETS.items():
        for i in range(count):
            good, bad = f"{subset} good answer {i}.", f"{subset} weak answer {i}."
            first_is_good = i % 2 == 0
            rows.append({
                "input": f"{subset} question {i}?",
                "output_1": good if first_is_good else bad,
                "output_2": bad if first_is_good else good,
                "label": 1 if first_is_good else 2,
                "subset": subset,
            })  # fmt: skip
    return rows


def tool_rows(rows: list[dict], swapped: bool) -> tuple[list[dict], dict[str, int]]:
    """The tool's verdicts in one presentation order (it always says "1" for swapped
    orders, a position bias) and how many it got right per subset."""
    verdicts, right = [], dict.fromkeys(SUBSETS, 0)
    for i, row in enumerate(rows):
        first, second = (
            (row["output_2"], row["output_1"]) if swapped else (row["output_1"], row["output_2"])
        )
        says = 1 if swapped else (1 if i % 3 else 2)
        picked = first if says == 1 else second
        right[row["subset"]] += picked == (
            row["output_1"] if row["label"] == 1 else row["output_2"]
        )
        verdicts.append(
            {"input": row["input"], "output_1": first, "output_2": second, "label": says}
        )
    return verdicts, right


def test_llmbar_round_trip_reproduces_per_order_accuracy(store_dir, write_jsonl):
    store = str(store_dir)
    rows = gold_rows()
    gold = run_json("ingest", "pairs", str(write_jsonl("llmbar.jsonl", rows)), "--store", store,
                    "--labeler", "llmbar", "--subset-field", "subset")  # fmt: skip
    assert gold["layouts"] == ["llmbar"] and gold["added"]["labels"] == len(rows)
    expected = {}
    for name, swapped in (("tool-ab", False), ("tool-ba", True)):
        verdicts, expected[name] = tool_rows(rows, swapped)
        path = write_jsonl(f"{name}.jsonl", verdicts)
        imported = run_json("ingest", "labels", str(path), "--store", store, "--labeler", name)
        assert imported["added"]["labels"] == len(rows)
        assert imported["added"]["prompts"] == imported["added"]["candidates"] == 0
        again = run_json("ingest", "labels", str(path), "--store", store, "--labeler", name)
        assert sum(again["added"].values()) == 0
    report = run_json("eval", "labelers", "--store", store, "--gold", "llmbar",
                      "--labelers", "tool-ab,tool-ba", "--by", "subset")  # fmt: skip
    for name, right in expected.items():
        groups = report["labelers"][name]["groups"]
        assert set(groups) == set(SUBSETS)
        for subset, count in SUBSETS.items():
            assert groups[subset]["n"] == count
            assert round(groups[subset]["accuracy"] * count) == right[subset], (name, subset)


def test_texts_not_in_the_store_are_rejects_or_added(store_dir, write_jsonl):
    store = str(store_dir)
    known = write_jsonl("known.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}])
    run_json("ingest", "pairs", str(known), "--store", store, "--labeler", "gold")
    other = write_jsonl("other.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"},
                                        {"prompt": "New?", "chosen": "C", "rejected": "D"}])  # fmt: skip
    summary = run_json("ingest", "labels", str(other), "--store", store, "--labeler", "judge")
    assert summary["rejects_by_reason"] == {"unknown_candidate": 1}
    assert summary["added"]["labels"] == 1
    added = run_json("ingest", "labels", str(other), "--store", store, "--labeler", "judge2",
                     "--add-texts")  # fmt: skip
    assert added["added"]["prompts"] == 1 and added["added"]["labels"] == 2


def test_a_new_file_for_a_labeler_makes_its_older_labels_stale(store_dir, write_jsonl):
    store = str(store_dir)
    rows = [{"prompt": "Q", "chosen": "A", "rejected": "B"}]
    run_json(
        "ingest", "pairs", str(write_jsonl("g.jsonl", rows)), "--store", store, "--labeler", "gold"
    )
    flipped = [{"prompt": "Q", "chosen": "B", "rejected": "A"}]
    run_json(
        "ingest",
        "labels",
        str(write_jsonl("t1.jsonl", rows)),
        "--store",
        store,
        "--labeler",
        "tool",
    )
    run_json(
        "ingest",
        "labels",
        str(write_jsonl("t2.jsonl", flipped)),
        "--store",
        store,
        "--labeler",
        "tool",
    )
    labels = Store(store).scan("labels").filter(pl.col("labeler") == "tool").collect()
    assert labels["fingerprint"].n_unique() == 2
    report = run_json("eval", "labelers", "--store", store, "--gold", "gold", "--labelers", "tool")
    assert report["labelers"]["tool"]["accuracy"] == 0.0  # the newest file counts


def test_user_mistakes_are_one_line(store_dir, write_jsonl):
    path = write_jsonl("odd.jsonl", [{"q": "x"}])
    result = runner.invoke(app, ["ingest", "pairs", str(path), "--store", str(store_dir),
                                 "--labeler", "g"])  # fmt: skip
    assert result.exit_code != 0 and "no known layout" in result.output
    assert "Traceback" not in result.output
    assert not store_dir.exists()
    missing = runner.invoke(app, ["ingest", "labels", str(path), "--store", str(store_dir),
                                  "--labeler", "g"])  # fmt: skip
    assert missing.exit_code != 0 and "Traceback" not in missing.output


def test_scores_per_answer_and_answers_named_by_id(store_dir, write_jsonl):
    store = str(store_dir)
    pairs = write_jsonl("p.jsonl", [{"prompt": "Q", "chosen": "A", "rejected": "B"}])
    run_json("ingest", "pairs", str(pairs), "--store", store, "--labeler", "gold")
    scores = write_jsonl("s.jsonl", [{"prompt": "Q", "response": "A", "rating": 4},
                                     {"prompt": "Q", "response": "B", "rating": "2"},
                                     {"prompt": "Q", "response": "B", "rating": "high"}])  # fmt: skip
    summary = run_json("ingest", "labels", str(scores), "--store", store, "--labeler", "rater",
                       "--score-field", "rating")  # fmt: skip
    assert summary["added"]["labels"] == 2 and summary["rejects_by_reason"] == {"bad_score": 1}
    report = run_json("eval", "labelers", "--store", store, "--gold", "gold", "--labelers", "rater")
    assert report["labelers"]["rater"]["accuracy"] == 1.0
    ids = Store(store).scan("candidates").collect().sort("content")["candidate_id"].to_list()
    by_id = write_jsonl("ids.jsonl", [{"a": ids[1], "b": ids[0], "w": "a"},
                                      {"a": "nope", "b": ids[0], "w": "b"}])  # fmt: skip
    summary = run_json("ingest", "labels", str(by_id), "--store", store, "--labeler", "picker",
                       "--by-ids", "--first-field", "a", "--second-field", "b",
                       "--winner-field", "w", "--winner-values", "first=a,second=b")  # fmt: skip
    assert summary["rejects_by_reason"] == {"unknown_candidate": 1}
    report = run_json(
        "eval", "labelers", "--store", store, "--gold", "gold", "--labelers", "picker"
    )
    assert report["labelers"]["picker"]["accuracy"] == 0.0  # it picked B
