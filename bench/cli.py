"""Start-up cost of a flow command: what a user waits for beyond the work itself.

    python -m bench.cli [--rounds 3] [--json]

On a tiny store (50 hh-rlhf pairs), the wall time of `prefsmith build preference`,
`prefsmith export` and `prefsmith label --limit 1` (a tiny reward model) as separate
processes, the way a user or a scheduler runs them, in four set-ups measured in this run:

  ephemeral     PREFSMITH_PREFECT_SERVER=off, PREFSMITH_RUNNER=off, no Prefect configuration:
                Prefect's own ephemeral mode, a temporary API server inside every command (the
                baseline: what every command cost before).
  local-cold    the shared local server, every command in its own process (PREFSMITH_RUNNER=off).
  local         no Prefect configuration (the default): the first command starts the local
                server and the warm runner, later commands run in it.
  server        PREFECT_API_URL set to a `prefect server start` the benchmark runs (a team's
                own server), with the warm runner.

Each figure is the median of `--rounds` commands after a first one (and, where there is a warm
runner, after it is up); `first` is the first command. Ratios are baseline / set-up.
Targets: local build and export <= 5 s; server build and export <= 2 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import check_targets

ROOT = Path(__file__).resolve().parents[1]
HH = ROOT / "tests" / "data" / "hh_rlhf_harmless_test_120.jsonl"
PREFSMITH = Path(sys.executable).parent / "prefsmith"


def make_store(where: Path) -> tuple[Path, Path]:
    """A 50-pair store and a tiny one-logit reward model (MiniLM's tokenizer, 1 layer)."""
    code = f"""
import torch
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification
from prefsmith.ingest.hh_rlhf import ingest_hh_jsonl
from prefsmith.bundled import minilm_dir
from prefsmith.store import Store
import itertools, pathlib
lines = pathlib.Path({str(HH)!r}).read_text().splitlines()[:50]
pathlib.Path({str(where / "hh.jsonl")!r}).write_text("\\n".join(lines) + "\\n")
ingest_hh_jsonl(pathlib.Path({str(where / "hh.jsonl")!r}), Store({str(where / "store")!r}),
                source_key="k", source_name="hh")
tokenizer = AutoTokenizer.from_pretrained(minilm_dir())
config = BertConfig(vocab_size=len(tokenizer), hidden_size=16, intermediate_size=32,
                    num_hidden_layers=1, num_attention_heads=2, num_labels=1)
torch.manual_seed(0)
BertForSequenceClassification(config).save_pretrained({str(where / "rm")!r})
tokenizer.save_pretrained({str(where / "rm")!r})
"""
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return where / "store", where / "rm"


def commands(store: Path, rm: Path, out: Path, round_: int) -> dict[str, list[str]]:
    return {
        "build": ["build", "preference", "--store", str(store), "--name", "pairs"],
        "export": ["export", "--store", str(store), "--dataset", "pairs",
                   "--to", str(out / f"export-{round_}")],
        "label": ["label", "--store", str(store), "--labeler", "reward_model",
                  "--model", str(rm), "--name", f"rm-{round_}", "--limit", "1"],
    }  # fmt: skip


def timed(args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([str(PREFSMITH), *args, "--json"], env=env, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"prefsmith {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - started


def clean_env(home: Path) -> dict[str, str]:
    """A user with no Prefect configuration: a fresh HOME, data and runtime directory."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "PREFSMITH_"))}
    (home / "run").mkdir(parents=True, exist_ok=True, mode=0o700)
    return env | {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                  "XDG_RUNTIME_DIR": str(home / "run"),
                  "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}  # fmt: skip


def wait_for_runner(env: dict[str, str]) -> None:
    """Until the warm runner the first commands started is serving (at most 2 minutes)."""
    folder = Path(env["XDG_RUNTIME_DIR"]) / f"prefsmith-{os.getuid()}"
    deadline = time.monotonic() + 120
    while not list(folder.glob("*.sock")) and time.monotonic() < deadline:
        time.sleep(0.5)


def measure(name: str, env: dict[str, str], store, rm, out: Path, rounds: int, say) -> dict:
    first = {k: timed(v, env) for k, v in commands(store, rm, out / name, 0).items()}
    if env.get("PREFSMITH_RUNNER") != "off":
        wait_for_runner(env)
    times: dict[str, list[float]] = {k: [] for k in first}
    for round_ in range(1, rounds + 1):
        for key, args in commands(store, rm, out / name, round_).items():
            times[key].append(timed(args, env))
    result = {key: round(statistics.median(values), 2) for key, values in times.items()}
    say(f"{name:10s} first " + "  ".join(f"{k} {v:.1f}s" for k, v in first.items()))
    say(f"{name:10s} then  " + "  ".join(f"{k} {v:.1f}s" for k, v in result.items()))
    return {"first": {k: round(v, 2) for k, v in first.items()}, "median": result}


def own_server(home: Path) -> tuple[int, str]:
    """A team's server: `prefect server start` with a home of its own (pid, API URL)."""
    from prefsmith.runtime.prefect_server import start_server

    (home / "server").mkdir(parents=True, exist_ok=True)
    info = start_server(home / "server")
    return info.pid, info.url


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON line at the end")
    args = parser.parse_args()
    say = print if not args.json else (lambda text: print(text, file=sys.stderr))
    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-cli-"))
    server = None
    try:
        store, rm = make_store(work)
        out = work / "out"
        off = {"PREFSMITH_PREFECT_SERVER": "off", "PREFSMITH_RUNNER": "off"}
        ephemeral_env = clean_env(work / "home-ephemeral") | off
        result = {
            "ephemeral": measure("ephemeral", ephemeral_env, store, rm, out, args.rounds, say)
        }
        cold_home, local_home = work / "home-cold", work / "home-local"
        cold_env = clean_env(cold_home) | {"PREFSMITH_RUNNER": "off"}
        result["local-cold"] = measure("local-cold", cold_env, store, rm, out, args.rounds, say)
        result["local"] = measure("local", clean_env(local_home), store, rm, out, args.rounds, say)
        server, url = own_server(work / "home-server")
        server_env = clean_env(work / "home-server") | {"PREFECT_API_URL": url,
                                                        "PREFECT_HOME": str(work / "server")}  # fmt: skip
        result["server"] = measure("server", server_env, store, rm, out, args.rounds, say)
        for home in (cold_home, local_home, work / "home-server"):
            subprocess.run([str(PREFSMITH), "prefect", "stop"], env=clean_env(home),
                           capture_output=True, timeout=60)  # fmt: skip
        base = result["ephemeral"]["median"]
        for setup in ("local-cold", "local", "server"):
            for key, value in result[setup]["median"].items():
                name = setup.replace("-", "_")
                result[f"{name}_{key}_s"] = value
                result[f"{name}_{key}_vs_ephemeral"] = round(base[key] / value, 2)
        say("ratios (ephemeral / set-up): " + ", ".join(
            f"{k} {v}" for k, v in result.items() if k.endswith("_vs_ephemeral")))  # fmt: skip
        targets = {
            "local_build_s": ("<=", 5.0), "local_export_s": ("<=", 5.0),
            "server_build_s": ("<=", 2.0), "server_export_s": ("<=", 2.0),
        }  # fmt: skip
        check_targets(result, targets, say)
        if args.json:
            print(json.dumps(result))
    finally:
        if server is not None:
            os.killpg(server, 15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
