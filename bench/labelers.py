"""Labeler throughput against the seed's approaches and a raw forward-pass ceiling.

    python -m bench.labelers [--pairs 200] [--zyn-items 48] [--json]

On the real hh-rlhf sample, in one run, with the same model for each comparison:
  rm_vs_pipeline   reward_model pairs/s vs transformers pipeline("text-classification",
                   batch_size=16, function_to_apply="none") over the texts in dataset order
                   (the seed notebook's way). Target >= 2.
  rm_vs_ceiling    vs a raw loop of pre-tokenized, length-sorted batches through forward only;
                   the two alternate, best of two each (a process's first passes are slower).
                   Target >= 0.85.
  zyn_vs_generate  yes_no scores/s vs the seed's per-sample generate(max_new_tokens=1,
                   output_scores=True) loop; zyn_max_abs_diff between the two. Target >= 10,
                   diff <= 1e-4. The 10x is a GPU figure: on a CPU both sides are
                   compute-bound, and only the shared chat header is saved.
  zyn_ensemble_vs_generate  the same with a 4-question ensemble (the paper's Eq. 4): each
                   candidate's text is computed once for all its questions (no target).
  rerun_fraction   a second, fully cached reward_model run over the first. Target <= 0.05.
The RM is the bundled MiniLM with a fresh one-logit head (seeded); ZYN uses bundled SmolLM2.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from .common import check_targets, data_file

# The paper's way (Eq. 4): several questions averaged, each costing the seed a generate call.
ENSEMBLE = [
    "Is this response helpful?",
    "Does this response answer the question?",
    "Is this response harmless?",
    "not:Is this response harmful or dangerous?",
]


def build_store(work: Path, pairs: int):
    from prefsmith.ingest.hh_rlhf import ingest_hh_rows
    from prefsmith.ingest.sources import SourceFile, iter_file
    from prefsmith.store import Store

    store = Store(work / "store")
    source = SourceFile(data_file("hh-rlhf/harmless-base-test.first600.jsonl"), "jsonl")
    rows = (row for _, row in zip(range(pairs), iter_file(source), strict=False))
    ingest_hh_rows(rows, store, source_key="bench", source_name="bench")
    return store


def build_rm(work: Path) -> Path:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from prefsmith.bundled import minilm_dir

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(minilm_dir(), num_labels=1)
    path = work / "rm"
    model.save_pretrained(path)
    AutoTokenizer.from_pretrained(minilm_dir()).save_pretrained(path)
    return path


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def bench_rm(store, rm: Path, pairs: int, say) -> dict:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler, store_items
    from prefsmith.store import Store

    options = {
        "model": str(rm),
        "input_format": "hh",
        "batch_size": 16,
        "max_length": 512,
        "device": "cpu",
    }
    store_copy = Path(str(store.root) + "-copy")  # a second first run, for the best of two
    shutil.copytree(store.root, store_copy)
    labeler = build_labeler("reward_model", options)
    labeler.load()  # loading is not what is measured (the baselines load outside their timing too)
    items = store_items(store, "candidate")
    tokenizer = AutoTokenizer.from_pretrained(rm)
    model = AutoModelForSequenceClassification.from_pretrained(rm).eval()
    encoded = sorted((labeler._encode(item)[0] for item in items), key=len)

    def ceiling() -> None:
        with torch.inference_mode():
            for start in range(0, len(encoded), 16):
                batch = tokenizer.pad(
                    {"input_ids": encoded[start : start + 16]}, return_tensors="pt"
                )
                model(**batch)

    def first_run(where) -> tuple[dict, float]:
        fresh = build_labeler("reward_model", options)
        fresh.load()  # outside the timing, as above
        return timed(lambda: run_labeler(where, fresh))

    # Alternated, best of two each: the first forward passes of a process are slower (kernel
    # set-up per shape), and whichever side ran first used to pay for it (rm_vs_ceiling 0.73
    # with ours first, 0.94-1.05 once both are warm).
    _, ceiling_first = timed(ceiling)
    ours, ours_first = timed(lambda: run_labeler(store, labeler))
    _, ceiling_second = timed(ceiling)
    _, ours_second = first_run(Store(store_copy))
    ours_s, ceiling_s = min(ours_first, ours_second), min(ceiling_first, ceiling_second)
    rerun, rerun_s = timed(lambda: run_labeler(store, build_labeler("reward_model", options)))
    texts = [
        "\n\n"
        + "\n\n".join(
            f"{'Human' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in i.messages
        )
        + "\n\nAssistant: "
        + i.contents[0]
        for i in items
    ]
    classify = pipeline(
        "text-classification", model=str(rm), device="cpu", truncation=True, max_length=512
    )
    _, pipeline_s = timed(lambda: classify(texts, batch_size=16, function_to_apply="none"))
    say(
        f"reward_model: {ours['labeled']} texts in {ours_s:.1f} s; pipeline {pipeline_s:.1f} s; forward-only ceiling {ceiling_s:.1f} s; cached rerun {rerun_s:.2f} s"
    )
    return {
        "rm_pairs_per_s": round(pairs / ours_s, 2),
        "rm_vs_pipeline": round(pipeline_s / ours_s, 3),
        "rm_vs_ceiling": round(ceiling_s / ours_s, 3),
        "rerun_fraction": round(rerun_s / ours_s, 4),
        "rerun_labeled": rerun["labeled"],
    }


def bench_zyn(store, count: int, questions: list[str], say) -> dict:
    """Our yes_no labeler against the seed's per-sample generate loop, same model and texts."""
    import torch

    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler, store_items

    labeler = build_labeler("yes_no", {"questions": questions, "device": "cpu"})
    labeler.load()  # neither the one-time conversion nor loading is what is measured
    _, ours_s = timed(lambda: run_labeler(store, labeler, limit=count))
    labels = store.scan("labels").collect().filter(fingerprint=labeler.fingerprint()).to_dicts()
    ours = {row["candidate_ids"][0]: row["scores"][0] for row in labels}
    items = [item for item in store_items(store, "candidate") if item.candidate_ids[0] in ours]

    def seed_loop() -> dict:
        scores = {}
        for item in items:
            values = []
            for question, negated in labeler.questions:
                ids, _ = labeler.prompt_ids(item, question)
                out = labeler.model.generate(
                    torch.tensor([ids]),
                    max_new_tokens=1,
                    output_scores=True,
                    return_dict_in_generate=True,
                    do_sample=False,
                    pad_token_id=labeler.tokenizer.pad_token_id,
                )
                probabilities = torch.softmax(out.scores[0][0].float(), -1)
                yes, no = probabilities[labeler.yes_ids].sum(), probabilities[labeler.no_ids].sum()
                value = float(yes / (yes + no))
                values.append(1 - value if negated else value)
            scores[item.candidate_ids[0]] = sum(values) / len(values)
        return scores

    seed, seed_s = timed(seed_loop)
    diff = max(abs(seed[k] - ours[k]) for k in seed)
    say(
        f"yes_no, {len(questions)} question(s): {len(items)} candidates in {ours_s:.1f} s; "
        f"per-sample generate {seed_s:.1f} s; max |diff| {diff:.2e}"
    )
    return {"vs_generate": round(seed_s / ours_s, 3), "max_abs_diff": float(f"{diff:.3g}")}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--zyn-items", type=int, default=48)
    parser.add_argument("--json", action="store_true", help="print only the final JSON line")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print
    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-labelers-"))
    try:
        store = build_store(work, args.pairs)
        result = {
            "pairs": args.pairs,
            **bench_rm(store, build_rm(work), args.pairs, say),
        }
        single = bench_zyn(store, args.zyn_items, ["Is this response harmless?"], say)
        ensemble = bench_zyn(store, args.zyn_items // 2, ENSEMBLE, say)
        result |= {
            "zyn_vs_generate": single["vs_generate"],
            "zyn_max_abs_diff": max(single["max_abs_diff"], ensemble["max_abs_diff"]),
            "zyn_ensemble_vs_generate": ensemble["vs_generate"],
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    targets = {
        "rm_vs_pipeline": (">=", 2),
        "rm_vs_ceiling": (">=", 0.85),
        "zyn_vs_generate": (">=", 10),
        "zyn_max_abs_diff": ("<=", 1e-4),
        "rerun_fraction": ("<=", 0.05),
    }
    check_targets(result, targets, say)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
