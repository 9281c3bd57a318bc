"""The store at a team's volume: reads, writes and compaction against a polars floor.

    python -m bench.store [--labels 2000000] [--labelers 2] [--json]

Builds a synthetic store through the store API: P prompts with two answers each, a gold
labeler (`human:bench`) and `--labelers` labelers (`synth-K`, agreeing with the gold more
often as K grows) each judging every pair, so `--labels` = P x (1 + labelers). Labels are
written 2,000 at a time, as a labeling run writes them (the store compacts as it goes).
Then, each in a fresh process, timed with its peak RSS:
  status, eval labelers (every synth labeler against the gold), build preference (from
  synth-0), a panel fit and labeling (`label --labeler panel`), store compact, and one
  2,000-label write into the full store;
  floor: polars over the same labels in one Parquet file: the labelers' accuracies against
  the gold in one lazy scan, join and group-by.
Targets (issue 30, on 2 cores): status <= 2 s; eval, build and panel <= 30 s at 2M labels
(60 s at 10M); peak RSS <= 2 GB (4 GB at 10M); eval and build >= 0.1x the floor's speed;
the last write <= 2x the first. The last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from .common import check_targets, run_measured

BUILD = """
def main(store_dir, pairs, labelers):
    import random, statistics, time
    from datetime import datetime, timezone
    import pyarrow as pa
    from prefsmith.schemas.ids import candidate_id, label_id, prompt_id
    from prefsmith.schemas.records import TABLES
    from prefsmith.store import Store

    pairs, labelers = int(pairs), int(labelers)
    store, rng, now = Store(store_dir), random.Random(0), datetime.now(timezone.utc)
    def table(name, columns):
        rows = len(next(iter(columns.values())))
        full = {f.name: columns.get(f.name, pa.nulls(rows, f.type)) for f in TABLES[name].schema}
        return pa.table({k: pa.array(v, TABLES[name].schema.field(k).type) if isinstance(v, list) else v
                         for k, v in full.items()})
    pids, answers = [], []
    for start in range(0, pairs, 100_000):
        chunk = range(start, min(pairs, start + 100_000))
        messages = [[{"role": "user", "content": f"bench question {i}"}] for i in chunk]
        ids = [prompt_id(m) for m in messages]
        pairs_of = [(candidate_id(p, f"answer a {i}"), candidate_id(p, f"answer b {i}")) for p, i in zip(ids, chunk)]
        store.write("prompts", table("prompts", {"prompt_id": ids, "messages": messages,
                    "followups": [[] for _ in chunk], "source": ["bench"] * len(chunk), "created_at": [now] * len(chunk)}))
        store.write("candidates", table("candidates", {
            "candidate_id": [c for a, b in pairs_of for c in (a, b)],
            "prompt_id": [p for p in ids for _ in (0, 1)],
            "content": [t for i in chunk for t in (f"answer a {i}", f"answer b {i}")],
            "extra_turns": [[] for _ in range(2 * len(chunk))],
            "origin": ["bench:model-a", "bench:model-b"] * len(chunk), "created_at": [now] * (2 * len(chunk))}))
        pids += ids
        answers += pairs_of
    gold = [rng.random() < 0.5 for _ in range(pairs)]
    writes = []
    for name, agree in [("human:bench", 1.0), *((f"synth-{k}", 0.6 + 0.3 * k / max(1, labelers)) for k in range(labelers))]:
        for start in range(0, pairs, 2000):
            rows = range(start, min(pairs, start + 2000))
            first = [gold[i] if rng.random() < agree else not gold[i] for i in rows]
            candidate_ids = [list(answers[i]) for i in rows]
            columns = {"label_id": [label_id(c, name, "fp-" + name) for c in candidate_ids],
                       "labeler": [name] * len(rows), "fingerprint": ["fp-" + name] * len(rows),
                       "kind": ["pairwise"] * len(rows), "prompt_id": [pids[i] for i in rows],
                       "candidate_ids": candidate_ids,
                       "scores": [[1.0, 0.0] if f else [0.0, 1.0] for f in first],
                       "created_at": [now] * len(rows)}
            labels = table("labels", columns)
            started = time.perf_counter()
            store.write("labels", labels)
            writes.append(time.perf_counter() - started)
    return {"first_writes_s": writes[:20], "last_writes_s": writes[-20:],
            "write_max_s": max(writes), "writes": len(writes), "label_parts": len(store.parts("labels"))}
"""

COMMAND = """
def main(*args):
    import time
    from prefsmith.cli.app import app
    started = time.perf_counter()
    try:
        app(list(args), standalone_mode=False)
    except SystemExit as done:
        if done.code:
            raise
    return {"seconds": time.perf_counter() - started}
"""

ONE_WRITE = """
def main(store_dir):
    import time
    from datetime import datetime, timezone
    from prefsmith.schemas.records import Label, to_table
    from prefsmith.store import Store
    labels = [Label("late", "fp", "score", f"p{i}", [f"c{i}"], [1.0]) for i in range(2000)]
    table = to_table("labels", labels, datetime.now(timezone.utc))
    started = time.perf_counter()
    added = Store(store_dir).write("labels", table).added
    return {"seconds": time.perf_counter() - started, "added": added}
"""

FLOOR = """
def main(store_dir, one_file):
    import time, polars as pl
    from prefsmith.store import Store
    parts = [str(p) for p in Store(store_dir).parts("labels")]
    pl.scan_parquet(parts, missing_columns="insert", extra_columns="ignore").sink_parquet(one_file)
    started = time.perf_counter()
    labels = pl.scan_parquet(one_file).select("labeler", "candidate_ids", "scores")
    first_won = (pl.col("scores").list.get(0) > pl.col("scores").list.get(1))
    gold = labels.filter(pl.col("labeler") == "human:bench").select("candidate_ids", first_won.alias("gold"))
    accuracy = (labels.filter(pl.col("labeler") != "human:bench")
                .join(gold, on="candidate_ids").group_by("labeler")
                .agg((first_won == pl.col("gold")).mean().alias("accuracy"), pl.len()).collect())
    return {"seconds": time.perf_counter() - started, "labelers": accuracy.height}
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--labels", type=int, default=2_000_000)
    parser.add_argument("--labelers", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print only the final JSON line")
    parser.add_argument(
        "--keep", metavar="DIR", help="build the store in DIR and keep it (default: a temp dir)"
    )
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print
    pairs = args.labels // (1 + args.labelers)
    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-store-"))
    store = args.keep or str(work / "store")
    if args.keep and Path(store).exists():
        raise SystemExit(f"--keep {store}: already exists (the bench builds a new store)")
    result: dict = {"labels": pairs * (1 + args.labelers), "labelers": args.labelers}
    try:
        started = time.perf_counter()
        built = run_measured(BUILD, store, str(pairs), str(args.labelers))
        say(
            f"built {result['labels']:,} labels ({pairs:,} pairs) in {time.perf_counter() - started:.0f} s;"
            f" {built['label_parts']} label parts; peak {built['peak_rss_mb']:,.0f} MB"
        )
        result["first_write_s"] = round(statistics.median(built["first_writes_s"]), 4)
        result["last_write_s"] = round(statistics.median(built["last_writes_s"]), 4)
        result["last_vs_first_write"] = round(result["last_write_s"] / result["first_write_s"], 2)
        result["slowest_write_s"] = round(built["write_max_s"], 2)
        result["label_parts_after_build"] = built["label_parts"]
        synth = ",".join(f"synth-{k}" for k in range(args.labelers))
        panel_options = ["--option", f"members={synth}", "--option", "gold=human:bench"]
        steps = {
            "status": ["status"],
            "eval": ["eval", "labelers", "--gold", "human:bench", "--labelers", synth],
            "build": ["build", "preference", "--from", "synth-0", "--name", "bench"],
            "panel": ["label", "--labeler", "panel", *panel_options],
            "compact": ["store", "compact"],
        }
        for step, command in steps.items():
            run = run_measured(COMMAND, *command, "--store", store, "--json")
            result[f"{step}_s"] = round(run["seconds"], 2)
            result[f"{step}_peak_rss_mb"] = round(run["peak_rss_mb"])
            say(f"{step:>8}: {run['seconds']:7.2f} s, peak {run['peak_rss_mb']:,.0f} MB")
        write = run_measured(ONE_WRITE, store)
        result["fresh_process_write_s"] = round(write["seconds"], 3)
        say(
            f"a 2,000-label write in a fresh process (loads the key index): {write['seconds']:.2f} s"
        )
        floor = run_measured(FLOOR, store, str(work / "labels.parquet"))
        result["floor_s"] = round(floor["seconds"], 2)
        result["eval_vs_floor"] = round(floor["seconds"] / result["eval_s"], 3)
        result["build_vs_floor"] = round(floor["seconds"] / result["build_s"], 3)
        say(f"   floor: {floor['seconds']:7.2f} s (polars: accuracies in one scan, join, group-by)")
        say(
            f"writes of 2,000 labels: first {result['first_write_s']} s, last {result['last_write_s']} s"
            f" (median of 20 each), slowest {result['slowest_write_s']} s (one that compacted)"
        )
        large = result["labels"] > 5_000_000
        seconds, memory = (60.0, 4096.0) if large else (30.0, 2048.0)
        peak = max(result[f"{s}_peak_rss_mb"] for s in ("status", "eval", "build", "panel"))
        result["peak_rss_mb"] = peak
        check_targets(
            result,
            {
                "status_s": ("<=", 2.0),
                "eval_s": ("<=", seconds),
                "build_s": ("<=", seconds),
                "panel_s": ("<=", seconds),
                "peak_rss_mb": ("<=", memory),
                "eval_vs_floor": (">=", 0.1),
                "build_vs_floor": (">=", 0.1),
                "last_vs_first_write": ("<=", 2.0),
            },
            say,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
