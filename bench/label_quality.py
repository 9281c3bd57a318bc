"""Is the learned panel worth it? Its accuracy on human labels beside its members'.

    python -m bench.label_quality [--held-out 0.33] [--json]

On the bundled hh-rlhf sample, split by prompt: a reward model is trained (bundled MiniLM,
`prefsmith train rm`) on the first part only; the held-out part, in a store of its own, is
labeled by that reward model and by ZYN (the bundled SmolLM2 asked the helpfulness questions),
and the panel of the two plus the length covariate is fit on its human labels with
cross-fitting (`prefsmith label --labeler panel`). `prefsmith eval labelers` then gives every
labeler's accuracy against the human labels with its 95% interval, the panel's from its
cross-fitted labels: an honest figure for each.

Reported: each labeler's accuracy [95% CI], the panel's cross-fitted accuracy, and
panel_vs_best_member (panel accuracy / best member's). Target: ≥ 1. Every step is the CLI a
user runs, in this process's environment (a local Prefect server is started if none is
configured). Takes ~10 minutes on 2 cores, most of it ZYN.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import check_targets, data_file

PREFSMITH = Path(sys.executable).parent / "prefsmith"


def prefsmith(*args: str) -> dict:
    done = subprocess.run([str(PREFSMITH), *args, "--json"], capture_output=True, text=True,
                          env={**os.environ, "PREFSMITH_RUNNER": "off"}, check=False)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"prefsmith {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def split_sample(work: Path, held_out: float) -> tuple[Path, Path]:
    """The sample's lines in two files, by a stable hash of each line."""
    import hashlib

    lines = data_file("hh-rlhf/harmless-base-test.first600.jsonl").read_text().splitlines()
    train, test = [], []
    for line in lines:
        bucket = int(hashlib.sha256(line.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        (test if bucket < held_out else train).append(line)
    paths = work / "train.jsonl", work / "held-out.jsonl"
    for path, part in zip(paths, (train, test), strict=True):
        path.write_text("\n".join(part) + "\n")
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held-out", type=float, default=0.33)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda text: print(text, file=sys.stderr)) if args.json else print
    with tempfile.TemporaryDirectory(prefix="prefsmith-bench-quality-") as folder:
        work = Path(folder)
        train_file, test_file = split_sample(work, args.held_out)
        a, b, rm = str(work / "train-store"), str(work / "held-out-store"), str(work / "rm")
        prefsmith("ingest", "hh-rlhf", str(train_file), "--store", a)
        prefsmith("build", "rm-pairs", "--store", a, "--from", "human:hh-rlhf", "--name", "pairs",
                  "--splits", "train=1.0")  # fmt: skip
        say("training the reward model on the first part ...")
        prefsmith("train", "rm", "--store", a, "--dataset", "pairs", "--output", rm,
                  "--max-length", "128")  # fmt: skip
        prefsmith("ingest", "hh-rlhf", str(test_file), "--store", b)
        prefsmith("label", "--store", b, "--labeler", "reward_model", "--model", rm,
                  "--name", "rm", "--max-length", "128")  # fmt: skip
        say("labeling the held-out part with ZYN ...")
        prefsmith("label", "--store", b, "--labeler", "yes_no", "--preset", "helpful",
                  "--name", "zyn", "--max-length", "384")  # fmt: skip
        panel = prefsmith("label", "--store", b, "--labeler", "panel", "--name", "panel",
                          "--option", "members=rm,zyn", "--option", "gold=human:hh-rlhf")  # fmt: skip
        report = prefsmith("eval", "labelers", "--store", b, "--gold", "human:hh-rlhf",
                           "--labelers", "rm,zyn,panel")  # fmt: skip
    figures = report["labelers"]
    best = max(figures[name]["accuracy"] for name in ("rm", "zyn"))
    result = {
        "held_out_pairs": report["gold_pairs"],
        "labelers": {
            name: {"accuracy": f["accuracy"], "ci95": f["ci95"], "n": f["n"]}
            for name, f in figures.items()
        },
        "panel_cross_fitted_accuracy": panel["cross_fitted_accuracy"],
        "panel_weights": panel["panel_weights"],
        "panel_vs_best_member": round(figures["panel"]["accuracy"] / best, 4),
    }
    for name, f in result["labelers"].items():
        say(
            f"{name:6s} accuracy {f['accuracy']:.3f} [{f['ci95'][0]:.3f}, {f['ci95'][1]:.3f}] on {f['n']} pairs"
        )
    say(f"panel weights {result['panel_weights']}")
    check_targets(result, {"panel_vs_best_member": (">=", 1.0)}, say)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
