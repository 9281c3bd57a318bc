"""`ingest pairs`: each public layout from its documented shape (tests/data/world/, copied
from the datasets' cards), bad rows as rejects by reason, ties, strengths, subsets, reruns."""

import json
from pathlib import Path

import polars as pl
import pytest

from prefsmith.ingest.judged_sources import check_pairs, ingest_judged_file
from prefsmith.ingest.sources import RowBudget
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import load_json
from prefsmith.store import Store

WORLD = Path(__file__).parents[1] / "data" / "world"


def ingest(store: Store, **settings) -> dict:
    checked = check_pairs(**settings)
    totals: dict = {"layouts": checked.layouts, "rejects": {}, "added": {}, "used": 0}
    budget = RowBudget(checked.config.limit)
    for source, layout in checked.files:
        report = ingest_judged_file(store, checked, source, layout, budget).to_dict()
        totals["used"] += report["rows_used"]
        for key in ("rejects_by_reason", "added"):
            for name, count in report[key].items():
                bucket = totals["rejects" if key == "rejects_by_reason" else "added"]
                bucket[name] = bucket.get(name, 0) + count
        totals.update({k: v for k, v in report.items() if k == "conflicts_as_ties"})
    return totals


def labels(store: Store, labeler: str) -> list[dict]:
    table = store.scan("labels").filter(pl.col("labeler") == labeler).collect()
    return [{**row, "details": load_json(row["details"])} for row in table.to_dicts()]


# file, labeler flags, layout, prompts, candidates, labels (per labeler), rejects by reason
LAYOUTS = [
    ("arena.jsonl", [], "arena", 6, 12, {"gold": 6}, {}),
    ("mt_bench_human.jsonl", [], "arena", 2, 8, {"gold": 5}, {}),
    ("helpsteer3.jsonl", [], "helpsteer3", 5, 10, {"gold": 5}, {}),
    ("helpsteer2_preference.jsonl", [], "helpsteer2-preference", 4, 8, {"gold": 4}, {}),
    ("pku_saferlhf.jsonl", ["safer=safer_response_id"], "pku-saferlhf", 4, 8,
     {"gold": 4, "safer": 4}, {}),
    ("llmbar.jsonl", [], "llmbar", 6, 12, {"gold": 6}, {}),
    ("llmbar", [], "llmbar", 6, 12, {"gold": 6}, {}),  # the repository's own JSON arrays
    ("judgebench.jsonl", [], "judgebench", 4, 8, {"gold": 4}, {}),
    ("rewardbench.jsonl", [], "chosen-rejected", 6, 12, {"gold": 6}, {}),
    ("nectar.jsonl", [], "nectar", 4, 28, {"gold": 4}, {}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "also", "layout", "prompts", "candidates", "by_labeler", "rejects"), LAYOUTS
)
def test_each_public_layout_comes_in_and_a_rerun_adds_nothing(
    store_dir, name, also, layout, prompts, candidates, by_labeler, rejects
):
    store = Store(store_dir)
    first = ingest(store, source=str(WORLD / name), labeler="gold", also=also)
    assert first["layouts"] == [layout]
    assert first["added"]["prompts"] == prompts
    assert first["added"]["candidates"] == candidates
    assert first["rejects"] == rejects
    assert {n: len(labels(store, n)) for n in by_labeler} == by_labeler
    again = ingest(store, source=str(WORLD / name), labeler="gold", also=also)
    assert sum(again["added"].values()) == 0


def test_arena_ties_are_ties_and_models_are_origins(store_dir):
    store = Store(store_dir)
    ingest(store, source=str(WORLD / "arena.jsonl"), labeler="arena")
    rows = [json.loads(line) for line in (WORLD / "arena.jsonl").read_text().splitlines()]
    ties = sum(row["winner"].startswith("tie") for row in rows)
    assert ties >= 2  # the fixture has both "tie" and "tie (bothbad)"
    scores = [label["scores"] for label in labels(store, "arena")]
    assert scores.count([0.5, 0.5]) == ties
    origins = set(store.scan("candidates").collect()["origin"])
    assert {f"arena:{row['model_a']}" for row in rows} <= origins


def test_helpsteer3_strength_is_the_margin_and_its_sign_the_winner(store_dir):
    store = Store(store_dir)
    ingest(store, source=str(WORLD / "helpsteer3.jsonl"), labeler="hs3")
    rows = [json.loads(line) for line in (WORLD / "helpsteer3.jsonl").read_text().splitlines()]
    candidates = dict(
        store.scan("candidates").select("candidate_id", "content").collect().iter_rows()
    )
    found = {}
    for label in labels(store, "hs3"):
        first, second = (candidates[i] for i in label["candidate_ids"])
        found[(first, second)] = (label["scores"], label["details"]["margin"])
    for row in rows:
        strength = row["overall_preference"]
        scores = [1.0, 0.0] if strength < 0 else [0.0, 1.0] if strength > 0 else [0.5, 0.5]
        assert found[(row["response1"], row["response2"])] == (scores, abs(strength))


def test_nectar_ranking_keeps_rank_order(store_dir):
    store = Store(store_dir)
    ingest(store, source=str(WORLD / "nectar.jsonl"), labeler="nectar")
    row = json.loads((WORLD / "nectar.jsonl").read_text().splitlines()[0])
    best_first = [a["answer"] for a in sorted(row["answers"], key=lambda a: a["rank"])]
    candidates = dict(
        store.scan("candidates").select("candidate_id", "content").collect().iter_rows()
    )
    rankings = [
        [candidates[i] for i in label["candidate_ids"]] for label in labels(store, "nectar")
    ]
    assert best_first in rankings
    assert all(label["kind"] == "ranking" for label in labels(store, "nectar"))


def test_a_subset_belongs_to_the_pair(store_dir, write_jsonl):
    path = write_jsonl(
        "two.jsonl",
        [
            {"prompt": "Say hi.", "chosen": "Hi!", "rejected": "No.", "subset": "easy"},
            {"prompt": "Say hi.", "chosen": "Hello!", "rejected": "Go away.", "subset": "hard"},
        ],
    )
    store = Store(store_dir)
    ingest(store, source=str(path), labeler="gold")
    assert store.count("prompts") == 1
    assert sorted(label["details"]["subset"] for label in labels(store, "gold")) == ["easy", "hard"]


BAD_ROWS = [
    ({"input": "Q1", "output_1": "A", "output_2": "B", "label": 1}, None),
    ({"input": "Q2", "output_1": "A", "label": 1}, "missing_field"),
    ({"input": "Q3", "output_1": "Same.", "output_2": "Same.", "label": 1}, "identical_answers"),
    ({"input": "Q4", "output_1": "A", "output_2": "B", "label": 3}, "unknown_winner"),
    ({"input": "Q5", "output_1": "  ", "output_2": "B", "label": 2}, "empty_answer"),
    ({"input": [{"role": "user"}], "output_1": "A", "output_2": "B", "label": 1},
     "malformed_messages"),
    ({"input": "Q1", "output_1": "A", "output_2": "B", "label": 1}, "duplicate_pair"),
    ({"input": "Q6", "output_1": "C", "output_2": "D", "label": 1}, None),
    ({"input": "Q6", "output_1": "D", "output_2": "C", "label": 1}, "conflicting_verdict"),
]  # fmt: skip


def test_unusable_rows_are_rejects_by_reason(store_dir, write_jsonl):
    path = write_jsonl("bad.jsonl", [row for row, _ in BAD_ROWS])
    store = Store(store_dir)
    summary = ingest(store, source=str(path), labeler="gold")
    expected: dict = {}
    for _, reason in BAD_ROWS:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    expected["conflicting_verdict"] += 1  # the first of the two verdicts goes too
    assert summary["rejects"] == expected
    assert len(labels(store, "gold")) == 1  # Q1 only
    assert store.count("rejects") == sum(expected.values())


def test_conflicts_can_be_ties(store_dir, write_jsonl):
    path = write_jsonl("conflict.jsonl", [row for row, _ in BAD_ROWS[-2:]])
    store = Store(store_dir)
    summary = ingest(store, source=str(path), labeler="gold", conflicts="tie")
    assert summary["conflicts_as_ties"] == 1
    assert [label["scores"] for label in labels(store, "gold")] == [[0.5, 0.5]]


def test_implicit_prompt_is_the_shared_prefix(store_dir, write_jsonl):
    user = {"role": "user", "content": "Name a color."}
    path = write_jsonl(
        "implicit.jsonl",
        [{"chosen": [user, {"role": "assistant", "content": "Red."}],
          "rejected": [user, {"role": "assistant", "content": "Seven."}]}],
    )  # fmt: skip
    store = Store(store_dir)
    ingest(store, source=str(path), labeler="gold")
    assert store.scan("prompts").collect()["messages"].to_list() == [[user]]


def test_unknown_layout_and_bad_mappings_are_one_line_errors(write_jsonl):
    path = write_jsonl("odd.jsonl", [{"q": "x", "a": "y", "b": "z", "w": "a"}])
    with pytest.raises(UserError, match="no known layout"):
        check_pairs(source=str(path), labeler="gold")
    with pytest.raises(UserError, match="needs --winner-values"):
        check_pairs(source=str(path), labeler="g", first_field="a", second_field="b",
                    winner_field="w")  # fmt: skip
    with pytest.raises(UserError, match="winner-values"):
        check_pairs(source=str(path), labeler="g", first_field="a", second_field="b",
                    winner_field="w", winner_values="a=1")  # fmt: skip
    named = check_pairs(source=str(path), labeler="g", prompt_field="q", first_field="a",
                        second_field="b", winner_field="w", winner_values="first=a,second=b")  # fmt: skip
    assert named.files[0][1].name == "fields"


def test_a_changed_file_is_a_new_fingerprint(store_dir, write_jsonl):
    rows = [{"prompt": "Q", "chosen": "A", "rejected": "B"}]
    first = check_pairs(source=str(write_jsonl("a.jsonl", rows)), labeler="g").fingerprint
    again = check_pairs(source=str(write_jsonl("b.jsonl", rows)), labeler="g").fingerprint
    rows.append({"prompt": "Q2", "chosen": "C", "rejected": "D"})
    changed = check_pairs(source=str(write_jsonl("c.jsonl", rows)), labeler="g").fingerprint
    assert first == again != changed


def test_llmbar_folders_are_subsets(store_dir):
    store = Store(store_dir)
    ingest(store, source=str(WORLD / "llmbar"), labeler="llmbar", subset_from_folder=True)
    subsets = sorted(label["details"]["subset"] for label in labels(store, "llmbar"))
    assert set(subsets) == {"Natural", "Adversarial/Neighbor"}
    assert subsets.count("Natural") == len(
        json.loads((WORLD / "llmbar/Natural/dataset.json").read_text())
    )
