"""Ingest throughput against the I/O floor, and what a Prefect flow run adds.

    python -m bench.ingest [--rows 1000000] [--case hh|pairs|both] [--json]

Two cases, each a file of `--rows` rows built from the real hh-rlhf sample (repeated, each
copy with different text so every row is a new prompt): `hh`, hh-rlhf's own layout for
`ingest hh-rlhf`, and `pairs`, a prompt/chosen/rejected/subset layout for `ingest pairs`.
Then in separate processes, alternating `--repeat` times (best of each compared, as this VM's
speed drifts):
  floor:  polars read_ndjson + write_parquet of the same file (the I/O floor);
  ingest: prefsmith's ingest engine into an empty store.
Targets: ingest >= 0.3x the floor's rows/s, ingest peak RSS < 2 GB (the writing process's
peak plus each worker's, counted at the largest worker's: a bound on the sum).
The last line of output is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

from .common import data_file, run_measured

SAMPLE = "hh-rlhf/harmless-base-test.first600.jsonl"

FLOOR = """
def main(path, out):
    import time, polars as pl
    started = time.perf_counter()
    frame = pl.read_ndjson(path)
    frame.write_parquet(out, compression="zstd")
    return {"rows": frame.height, "seconds": time.perf_counter() - started}
"""

INGEST = """
def main(path, store):
    import time
    import pathlib
    from prefsmith.ingest.hh_rlhf import default_workers, ingest_hh_jsonl
    from prefsmith.store import Store
    started = time.perf_counter()
    report = ingest_hh_jsonl(pathlib.Path(path), Store(store), source_key=path, source_name='bench')
    return {"rows": report.rows_read, "used": report.rows_used,
            "seconds": time.perf_counter() - started, "workers": default_workers(pathlib.Path(path))}
"""

FLOW_OVERHEAD = """
def main(path, store):
    import time
    import pathlib
    from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
    from prefsmith.runtime.prefect_env import configure_prefect
    configure_prefect()  # before Prefect is imported, as the CLI does
    from prefsmith.flows.ingest import ingest_hh_rlhf
    from prefsmith.store import Store
    started = time.perf_counter()
    ingest_hh_jsonl(pathlib.Path(path), Store(store + '-plain'), source_key=path, source_name='bench')
    plain = time.perf_counter() - started
    timings = []
    for attempt in range(2):
        started = time.perf_counter()
        ingest_hh_rlhf(store=f'{store}-{attempt}', config={'source': path})
        timings.append(time.perf_counter() - started)
    return {"plain_seconds": plain, "first_flow_seconds": timings[0], "later_flow_seconds": timings[1]}
"""


def build_input(path: Path, rows: int) -> None:
    """The real sample repeated; copy k gets a marker in every turn so ids never collide."""
    lines = [json.loads(line) for line in data_file(SAMPLE).read_text().splitlines()]
    with open(path, "w", encoding="utf-8") as out:
        for index in range(rows):
            row = lines[index % len(lines)]
            copy = index // len(lines)
            if copy:
                tag = f"\n\nHuman: (v{copy}) "
                row = {k: v.replace("\n\nHuman: ", tag) for k, v in row.items()}
            out.write(json.dumps(row) + "\n")


def rate(run: dict) -> float:
    return run["rows"] / run["seconds"]


def total_rss_mb(run: dict) -> float:
    """The ingest's peak RSS over all its processes, bounded from above."""
    return run["peak_rss_mb"] + run["workers"] * run["child_peak_rss_mb"]


PAIRS_INGEST = """
def main(path, store):
    import time
    import pathlib
    from prefsmith.ingest.blocks import default_workers
    from prefsmith.ingest.judged_sources import check_pairs, ingest_judged_file
    from prefsmith.ingest.sources import RowBudget
    from prefsmith.store import Store
    started = time.perf_counter()
    checked = check_pairs(source=path, labeler='bench', subset_field='subset')
    (source, layout), = checked.files
    report = ingest_judged_file(Store(store), checked, source, layout, RowBudget(None))
    return {"rows": report.rows_read, "used": report.rows_used,
            "seconds": time.perf_counter() - started, "workers": default_workers(pathlib.Path(path))}
"""


def build_pairs_input(path: Path, rows: int) -> None:
    """`ingest pairs`' common layout (a prompt, chosen, rejected and a subset, as RewardBench's
    or a binarized UltraFeedback's) from the real hh-rlhf sample: the dialogue before the last
    answer as the prompt text, the two last answers; copy k marked so ids never collide."""
    from prefsmith.ingest.hh_rows import HHRowError, parse_pair

    pairs = []
    for line in data_file(SAMPLE).read_text().splitlines():
        try:
            pairs.append(parse_pair(json.loads(line)))
        except HHRowError:
            continue
    with open(path, "w", encoding="utf-8") as out:
        for index in range(rows):
            pair, copy = pairs[index % len(pairs)], index // len(pairs)
            context = "\n".join(f"{m['role']}: {m['content']}" for m in pair.messages)
            row = {"prompt": f"(v{copy}) {context}", "chosen": pair.chosen,
                   "rejected": pair.rejected, "subset": f"part-{index % 7}"}  # fmt: skip
            out.write(json.dumps(row) + "\n")


def measure(code: str, source: Path, work: Path, repeat: int, say, name: str) -> dict:
    """Alternate floor and ingest runs; the best of each, their ratio and peak RSS."""
    floors, ingests = [], []
    for attempt in range(repeat):
        floors.append(run_measured(FLOOR, str(source), str(work / "floor.parquet")))
        say(
            f"{name} floor  (polars read + parquet write): {rate(floors[-1]):>9,.0f} rows/s, peak {floors[-1]['peak_rss_mb']:,.0f} MB"
        )
        store = work / f"store-{name}-{attempt}"
        ingests.append(run_measured(code, str(source), str(store)))
        shutil.rmtree(store, ignore_errors=True)
        say(
            f"{name} ingest (prefsmith engine):            {rate(ingests[-1]):>9,.0f} rows/s, peak {total_rss_mb(ingests[-1]):,.0f} MB"
            f" (writer {ingests[-1]['peak_rss_mb']:,.0f} MB + {ingests[-1]['workers']} workers"
            f" of <= {ingests[-1]['child_peak_rss_mb']:,.0f} MB)"
        )
    floor, ingest = max(floors, key=rate), max(ingests, key=rate)
    figures = {
        "floor_rows_per_s": round(rate(floor)),
        "ingest_rows_per_s": round(rate(ingest)),
        "ingest_vs_floor": round(rate(ingest) / rate(floor), 3),
        "ingest_peak_rss_mb": round(max(map(total_rss_mb, ingests))),
        "ingest_writer_peak_rss_mb": round(max(run["peak_rss_mb"] for run in ingests)),
        "ingest_worker_peak_rss_mb": round(max(run["child_peak_rss_mb"] for run in ingests)),
        "floor_peak_rss_mb": round(floor["peak_rss_mb"]),
    }
    figures["targets_met"] = (
        figures["ingest_vs_floor"] >= 0.3 and figures["ingest_peak_rss_mb"] < 2048
    )
    say(
        f"{name}: ingest_vs_floor = {figures['ingest_vs_floor']} (target >= 0.3); targets met: {figures['targets_met']}"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs of each")
    parser.add_argument("--case", choices=("hh", "pairs", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="print only the final JSON line")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print
    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-ingest-"))
    result: dict = {"rows": args.rows}
    try:
        for case, build, code in (
            ("hh", build_input, INGEST),
            ("pairs", build_pairs_input, PAIRS_INGEST),
        ):
            if args.case not in (case, "both"):
                continue
            source = work / f"{case}.jsonl"
            started = time.perf_counter()
            build(source, args.rows)
            say(
                f"{case} input: {args.rows:,} rows, {source.stat().st_size / 1e9:.2f} GB ({time.perf_counter() - started:.1f} s to build)"
            )
            result[case] = measure(code, source, work, args.repeat, say, case)
            source.unlink()
        if args.case in ("hh", "both"):
            small = work / "small.jsonl"
            build_input(small, 600)
            flow = run_measured(FLOW_OVERHEAD, str(small), str(work / "flow-store"))
            result["flow_overhead_first_s"] = round(
                flow["first_flow_seconds"] - flow["plain_seconds"], 2
            )
            result["flow_overhead_later_s"] = round(
                flow["later_flow_seconds"] - flow["plain_seconds"], 2
            )
            say(
                f"prefect flow overhead on 600 rows: first run in a process +{result['flow_overhead_first_s']:.1f} s "
                f"(starts the ephemeral API), later runs +{result['flow_overhead_later_s']:.1f} s"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result["targets"] = {"ingest_vs_floor": ">= 0.3", "ingest_peak_rss_mb": "< 2048"}
    result["targets_met"] = all(result[c]["targets_met"] for c in ("hh", "pairs") if c in result)
    say(f"targets met: {result['targets_met']}")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
