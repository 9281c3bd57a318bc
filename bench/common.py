"""Helpers shared by benchmarks: run a measured step in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
BUNDLED_DATA = Path(__file__).resolve().parents[1] / "data"


def data_file(relative: str) -> Path:
    """A file of ../shared/data, or the copy bundled in data/ on a clone without it."""
    shared = SHARED_DATA / relative
    return shared if shared.exists() else BUNDLED_DATA / relative


def run_measured(code: str, *args: str) -> dict:
    """Run `code` in a new interpreter; it must print one JSON line last. Adds its peak RSS
    and the largest peak RSS of the processes it started (MB)."""
    wrapper = (
        "import json, resource, sys\n"
        f"{code}\n"
        "result = main(*sys.argv[1:])\n"
        "result['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "result['child_peak_rss_mb'] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024\n"
        "print(json.dumps(result))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(
            f"benchmark step failed (exit {done.returncode}):\n{done.stderr[-3000:]}"
            f"{done.stdout[-2000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def check_targets(result: dict, targets: dict[str, tuple[str, float]], say) -> None:
    """Add `targets` and `targets_met` to `result` and say each verdict."""
    met = {k: (result[k] >= v if op == ">=" else result[k] <= v) for k, (op, v) in targets.items()}
    result["targets"] = {k: f"{op} {v}" for k, (op, v) in targets.items()}
    result["targets_met"] = met
    for key, ok in met.items():
        verdict = "met" if ok else "NOT met"
        say(f"{key} = {result[key]} (target {result['targets'][key]}): {verdict}")
