"""verify-instructions: lm-eval's IFEval checks on hand-made answers, offline.

The prompts are google/IFEval rows (tests/data/world/ifeval_sample.jsonl, SOURCES.md §11);
each answer follows or breaks a known set of its instructions, so every score is exact.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from prefsmith.labelers import ifeval_compat
from prefsmith.labelers.base import Item
from prefsmith.labelers.registry import build_labeler
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Candidate, load_json, to_table
from prefsmith.store import Store
from tests.cli_runner import run_json

IFEVAL = Path(__file__).parents[1] / "data" / "world" / "ifeval_sample.jsonl"
ROWS = {row["key"]: row for row in map(json.loads, IFEVAL.read_text().splitlines())}

LENGTH = (  # 20+ words, fewer than 4 sentences ("Mr." ends none), 3 paragraphs
    "Mr. Hale wakes before dawn and climbs the narrow stairs.\n***\n"
    "He polishes the great lens until it shines like still water.\n***\n"
    "Then he writes the weather in his log and makes tea."
)
ONE_PARAGRAPH = (  # words and sentences right, paragraphs wrong
    "He wakes early and climbs the stairs to polish the lens, "
    "then writes the weather in his log and makes his tea."
)
SURE = (  # JSON and lowercase, after a first line that strict mode reads too
    'Sure, here it is:\n{"name": "north point light", '
    '"lit": "yes, the lamp is lit every night for the ships at sea"}'
)
# key -> [(answer, {instruction: followed, in strict mode})]
CASES = {
    9001: [
        (LENGTH, {"number_words": True, "number_sentences": True, "number_paragraphs": True}),
        (ONE_PARAGRAPH, {"number_words": True, "number_sentences": True, "number_paragraphs": False}),
        ("He wakes. He climbs.\n***\nHe polishes the lens until it shines.\n***\n"
         "He writes in his log. He makes tea.",
         {"number_words": False, "number_sentences": False, "number_paragraphs": True}),
    ],
    9002: [
        ("The river runs under the old bridge. Water, water and more water flows past.",
         {"existence": True, "forbidden_words": True, "frequency": True}),
        ("The river and the bridge are easy to find. Water is near.",
         {"existence": True, "forbidden_words": False, "frequency": False}),
        ("The bridge is cheap to cross. Water flows.",
         {"existence": False, "forbidden_words": False, "frequency": False}),
    ],
    9003: [
        ('{"name": "north point light", "lit": "yes, the lamp is lit every night for the ships at sea"}',
         {"json_format": True, "english_lowercase": True}),
        (SURE, {"json_format": False, "english_lowercase": False}),
    ],
    9004: [
        ("LIGHTHOUSES WARN SAILORS ABOUT ROCKS AND SHOW THEM THE WAY INTO THE HARBOR AT NIGHT.",
         {"english_capital": True, "capital_word_frequency": True}),
        ("Lighthouses warn sailors about rocks and show them the way into the harbor at NIGHT.",
         {"english_capital": False, "capital_word_frequency": False}),
    ],
    9005: [
        ('"The lamp is lit at dusk and turned off at dawn. Any other questions?"',
         {"end_checker": True, "quotation": True}),
        ("The lamp is lit at dusk and turned off at dawn. Any other questions?",
         {"end_checker": True, "quotation": False}),
        ('"The lamp is lit at dusk."', {"end_checker": False, "quotation": True}),
    ],
    9006: [
        ("SECTION 1\n* Take the *morning ferry*\n* Climb the tower\n"
         "SECTION 2\n* Have lunch at the *harbor cafe*",
         {"number_bullet_lists": True, "multiple_sections": True, "number_highlighted_sections": True}),
        ("SECTION 1\n* Take the morning ferry\n* Climb the tower\n* Have lunch\n* Walk home",
         {"number_bullet_lists": False, "multiple_sections": False, "number_highlighted_sections": False}),
    ],
    9007: [
        ("Come to the lighthouse open day on [date] at [time].\nP.S. Bring a warm coat.",
         {"number_placeholders": True, "postscript": True, "no_comma": True}),
        ("Come to the lighthouse open day on [date], at noon.\nBring a warm coat.",
         {"number_placeholders": False, "postscript": False, "no_comma": False}),
    ],
}  # fmt: skip


def _item(key: int, answer: str, **metadata) -> Item:
    row = ROWS.get(key, {"prompt": "Hi"})  # key 0: a prompt without IFEval columns
    meta = {k: v for k, v in row.items() if k != "prompt"}
    return Item(
        prompt_id=str(key),
        messages=[{"role": "user", "content": row["prompt"]}],
        candidate_ids=["c"],
        contents=[answer],
        metadata={**meta, **metadata},
    )


@pytest.fixture(scope="module")
def strict():
    labeler = build_labeler("verify-instructions", {})
    labeler.load()
    return labeler


def _short(details: dict) -> dict:
    return {name.split(":", 1)[1]: done for name, done in details["instructions"].items()}


@pytest.mark.parametrize("key", sorted(CASES))
def test_each_constraint_family_followed_and_broken_scores_exactly(key, strict) -> None:
    every = build_labeler("verify-instructions", {"all": True})
    every.load()
    for answer, expected in CASES[key]:
        label = strict.label_batch([_item(key, answer)])[0]
        assert label.error is None
        assert _short(label.details) == expected, answer
        assert label.scores == [sum(expected.values()) / len(expected)]
        assert every.label_batch([_item(key, answer)])[0].scores == [float(all(expected.values()))]


def test_two_of_three_is_two_thirds_and_zero_with_all(strict) -> None:
    assert strict.label_batch([_item(9001, ONE_PARAGRAPH)])[0].scores == [2 / 3]
    every = build_labeler("verify-instructions", {"all": True})
    every.load()
    assert every.label_batch([_item(9001, ONE_PARAGRAPH)])[0].scores == [0.0]


def test_loose_reads_the_answer_without_its_first_line(strict) -> None:
    loose = build_labeler("verify-instructions", {"mode": "loose"})
    loose.load()
    assert strict.label_batch([_item(9003, SURE)])[0].scores == [0.0]
    label = loose.label_batch([_item(9003, SURE)])[0]
    assert label.scores == [1.0] and label.details["mode"] == "loose"
    assert loose.fingerprint() != strict.fingerprint()


def test_bad_instructions_are_that_items_error_not_the_batchs(strict) -> None:
    words = "length_constraints:number_words"
    items = [
        _item(0, "x", instruction_id_list=["x:y"], kwargs=[{}]),
        _item(
            0,
            "x",
            instruction_id_list=[words],
            kwargs=[{"num_words": None, "relation": "at least"}],
        ),
        _item(0, "x", instruction_id_list=[words], kwargs=[{"num_words": 5, "relation": "about"}]),
        _item(0, "x", instruction_id_list=["punctuation:no_comma"] * 2, kwargs=[{}]),
        _item(0, "no commas", instruction_id_list=["punctuation:no_comma"], kwargs=[{}]),
    ]
    labels = strict.label_batch(items)
    assert [label.error for label in labels] == [
        "unknown_instruction: x:y",
        f"bad_kwargs: {words}: missing num_words",  # IFEval would draw a random count
        f"bad_kwargs: {words}: ValueError: The supported relation for comparison must be in "
        "('less than', 'at least'), but about is given.",
        "bad_kwargs: not a list of 2 dicts, one per instruction",
        None,
    ]
    assert labels[-1].scores == [1.0]


def test_whole_number_floats_are_ints_as_a_parquet_read_gives_them(strict) -> None:
    label = strict.label_batch([_item(
        0, "First part.\n\nThen the second.",
        instruction_id_list=["length_constraints:nth_paragraph_first_word"],
        kwargs=[{"num_paragraphs": 2.0, "nth_paragraph": 2.0, "first_word": "then"}],
    )])[0]  # fmt: skip
    assert label.error is None and label.scores == [1.0]


def test_a_prompt_without_instructions_is_skipped(strict) -> None:
    assert strict.skip_reason(_item(0, "x")) == "no_instructions"
    assert strict.skip_reason(_item(0, "x", instruction_id_list=[])) == "no_instructions"
    assert strict.skip_reason(_item(9001, "x")) is None


def test_the_sentence_splitter_is_recorded_and_keys_the_fingerprint(strict, monkeypatch) -> None:
    splitter = ifeval_compat.sentence_splitter()
    assert strict.fingerprint_parts()["sentence_splitter"] == splitter
    assert strict.label_batch([_item(9001, LENGTH)])[0].details["sentence_splitter"] == splitter
    other = {ifeval_compat.TRAINED: ifeval_compat.PUNKT_TAB}.get(splitter, ifeval_compat.TRAINED)
    monkeypatch.setattr(ifeval_compat, "sentence_splitter", lambda: other)
    assert build_labeler("verify-instructions", {}).fingerprint() != strict.fingerprint()


def test_sentences_are_split_offline_abbreviations_kept(strict) -> None:
    from lm_eval.tasks.ifeval import instructions_util

    text = "Mr. Hale met Dr. Ross at 5 p.m. in the U.S. port. They talked. It rained!"
    assert instructions_util.count_sentences(text) == 3
    assert instructions_util.nltk.word_tokenize("It is NASA. Not the FBI.") == [
        "It", "is", "NASA", ".", "Not", "the", "FBI", ".",
    ]  # fmt: skip


def test_loading_the_checks_prints_and_downloads_nothing() -> None:
    code = "from prefsmith.labelers.ifeval_compat import import_ifeval; import_ifeval()"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("", "")


def test_missing_lm_eval_names_the_extra(monkeypatch) -> None:
    ifeval_compat.import_ifeval.cache_clear()
    for name in ("lm_eval", "lm_eval.tasks", "lm_eval.tasks.ifeval",
                 "lm_eval.tasks.ifeval.instructions_util", "lm_eval.tasks.ifeval.utils"):  # fmt: skip
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(UserError, match=r"pip install 'prefsmith\[verify\]'"):
        build_labeler("verify-instructions", {}).load()
    ifeval_compat.import_ifeval.cache_clear()


def test_the_runner_skips_prompts_without_instructions(tmp_path: Path, write_jsonl) -> None:
    store_dir = str(tmp_path / "store")
    plain = write_jsonl("plain.jsonl", [{"prompt": "Tell me a joke."}, {"prompt": "Say hi."}])
    run_json("ingest", "prompts", str(IFEVAL), "--store", store_dir)
    run_json("ingest", "prompts", str(plain), "--store", store_dir)
    store = Store(store_dir)
    prompts = store.scan("prompts").select("prompt_id", "metadata").collect()
    keys = [(load_json(m).get("key"), p) for p, m in prompts.iter_rows()]
    by_key = {key: p for key, p in keys if key is not None}
    plain_ids = [p for key, p in keys if key is None]
    assert len(by_key) == len(ROWS) and len(plain_ids) == 2
    candidates, expected = [], {}
    for key, cases in CASES.items():
        for answer, followed in cases:
            candidate = Candidate(by_key[key], answer, origin="test")
            candidates.append(candidate)
            expected[candidate.candidate_id] = sum(followed.values()) / len(followed)
    sure = next(c.candidate_id for c in candidates if c.content == SURE)
    candidates += [Candidate(p, "Hello.", origin="test") for p in plain_ids]
    store.write("candidates", to_table("candidates", candidates))

    summary = run_json("label", "--labeler", "verify-instructions", "--store", store_dir)
    assert summary["skipped"] == {"no_instructions": 2}
    assert summary["labeled"] == len(expected) and summary["errors"] == 0
    labels = store.scan("labels").filter(pl.col("labeler") == "verify-instructions").collect()
    got = {row["candidate_ids"][0]: row["scores"][0] for row in labels.iter_rows(named=True)}
    assert got == expected

    again = run_json("label", "--labeler", "verify-instructions", "--store", store_dir)
    assert again["labeled"] == 0 and again["cached"] == len(expected)
    loose = run_json("label", "--labeler", "verify-instructions", "--mode", "loose",
                     "--name", "loose", "--store", store_dir)  # fmt: skip
    assert loose["labeled"] == len(expected) and loose["skipped"] == {"no_instructions": 2}
    labels = store.scan("labels").filter(pl.col("labeler") == "loose").collect()
    assert {row["candidate_ids"][0]: row["scores"][0] for row in labels.iter_rows(named=True)}[
        sure
    ] == 1.0
