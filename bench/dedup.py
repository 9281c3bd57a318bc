"""Near-duplicate prompts at scale: `build preference --dedup-near` on a million prompts.

    python -m bench.dedup [--prompts 1000000] [--threshold 0.8] [--json]

Prompts are drawn from the words of the bundled hh-rlhf sample (10-40 words each, all
distinct), and 1% of them are copied with one word changed: the planted near copies. Each step
runs in a fresh process, measured in the same run:

  exact      the baseline: exact duplicates by a polars `unique` over the texts
  near       `builders.near_duplicates.near_duplicate_clusters` (datasketch MinHash signatures,
             LSH bands over a numpy matrix)

Reported: prompts/s of each, near_vs_exact (exact's time / near's: the share of the exact
pass's speed the near pass keeps), recall (planted copies whose true shingle Jaccard is at or
above the threshold that land in one cluster), the peak RSS of the near pass.
Target: peak RSS < 2 GB at 1M prompts.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from .common import check_targets, data_file, run_measured

MAKE = """
import json, re, sys
import numpy as np, polars as pl

def main(source, out, count):
    count = int(count)
    words = sorted({w for line in open(source) for w in re.findall(r"[a-z]+", line.lower())})
    vocabulary = np.array(words)
    rng = np.random.default_rng(0)
    lengths = rng.integers(10, 41, size=count)
    texts = [" ".join(vocabulary[rng.integers(0, len(vocabulary), size=n)]) for n in lengths]
    planted = rng.choice(count, size=2 * (count // 100), replace=False)
    half = len(planted) // 2  # the second half become copies of the first, a word changed
    pairs = []
    for original, copy in zip(planted[:half], planted[half:]):
        tokens = texts[original].split()
        tokens[len(tokens) // 2] = "changedword"
        texts[copy] = " ".join(tokens)
        pairs.append([int(original), int(copy)])
    pl.DataFrame({"id": [f"p{i:07d}" for i in range(count)], "text": texts}).write_parquet(out)
    json.dump(pairs, open(out + ".pairs.json", "w"))
    return {"prompts": count, "planted": len(pairs)}
"""

EXACT = """
import time
import polars as pl

def main(path):
    frame = pl.read_parquet(path)
    started = time.perf_counter()
    unique = frame.unique(subset="text").height
    return {"seconds": time.perf_counter() - started, "unique": unique}
"""

NEAR = """
import json, time
import polars as pl
from prefsmith.builders.near_duplicates import near_duplicate_clusters, shingles

def main(path, threshold):
    frame = pl.read_parquet(path)
    texts = dict(zip(frame["id"].to_list(), frame["text"].to_list()))
    del frame
    started = time.perf_counter()
    clusters = near_duplicate_clusters(texts, float(threshold))
    seconds = time.perf_counter() - started
    together = {frozenset(c) for c in clusters if len(c) == 2}
    member = {m: i for i, c in enumerate(clusters) for m in c}
    pairs = json.load(open(path + ".pairs.json"))
    def jaccard(a, b):
        x, y = shingles(texts[a]), shingles(texts[b])
        return len(x & y) / len(x | y)
    eligible = [(f"p{a:07d}", f"p{b:07d}") for a, b in pairs]
    eligible = [(a, b) for a, b in eligible if jaccard(a, b) >= float(threshold)]
    found = sum(member.get(a) is not None and member.get(a) == member.get(b) for a, b in eligible)
    return {"seconds": seconds, "clusters": len(clusters), "found": found,
            "eligible": len(eligible), "largest_cluster": max((len(c) for c in clusters), default=0)}
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", type=int, default=1_000_000)
    parser.add_argument("--threshold", type=float, default=0.8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda text: None) if args.json else print
    source = data_file("hh-rlhf/harmless-base-test.first600.jsonl")
    with tempfile.TemporaryDirectory(prefix="prefsmith-bench-dedup-") as folder:
        path = str(Path(folder) / "prompts.parquet")
        made = run_measured(MAKE, str(source), path, str(args.prompts))
        say(f"{made['prompts']} prompts, {made['planted']} planted near copies")
        exact = run_measured(EXACT, path)
        near = run_measured(NEAR, path, str(args.threshold))
    result = {
        "prompts": made["prompts"],
        "threshold": args.threshold,
        "exact_prompts_per_s": round(made["prompts"] / exact["seconds"]),
        "near_prompts_per_s": round(made["prompts"] / near["seconds"]),
        "near_vs_exact": round(exact["seconds"] / near["seconds"], 4),
        "near_seconds": round(near["seconds"], 1),
        "planted": made["planted"],
        "planted_at_threshold": near["eligible"],
        "planted_found": near["found"],
        "recall": round(near["found"] / near["eligible"], 4) if near["eligible"] else None,
        "clusters": near["clusters"],
        "largest_cluster": near["largest_cluster"],
        "near_peak_rss_mb": round(near["peak_rss_mb"]),
    }
    say(
        f"exact: {result['exact_prompts_per_s']} prompts/s; near: "
        f"{result['near_prompts_per_s']} prompts/s ({result['near_seconds']} s), ratio "
        f"{result['near_vs_exact']}; planted copies at the threshold found "
        f"{near['found']}/{near['eligible']} (of {made['planted']} planted); "
        f"peak RSS {result['near_peak_rss_mb']} MB"
    )
    check_targets(result, {"near_peak_rss_mb": ("<=", 2048)}, say)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
