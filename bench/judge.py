"""Judge throughput against a raw AsyncOpenAI loop, and the cost of a cached rerun.

    python -m bench.judge [--pairs 24] [--max-tokens 32] [--concurrency 4] [--rounds 2] [--json]

Against one bundled llama.cpp server started for the run, on hh-rlhf pairs:
  judge_vs_ceiling  judgments/s of `prefsmith label --labeler judge --mode pairwise` (both
                    orders, parsing, retries, store writes) vs a bare AsyncOpenAI loop sending the
                    same prompts with the same max_tokens at the same concurrency. Best round
                    against best round. Target >= 0.9.
  rerun_requests    requests the server received during a fully cached rerun, counted from
                    its own access log. Target 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from .common import check_targets
from .labelers import build_store


def server_requests(server) -> int:
    """Chat requests the server has answered so far, from its uvicorn access log."""
    text = Path(server.log.name).read_text(errors="replace")
    return text.count("POST /v1/chat/completions")


def ceiling(server, prompts: list, max_tokens: int, concurrency: int) -> float:
    """Seconds for a bare AsyncOpenAI loop over `prompts` at `concurrency`."""
    from openai import AsyncOpenAI

    async def run() -> None:
        gate = asyncio.Semaphore(concurrency)
        async with AsyncOpenAI(base_url=server.base_url, api_key="x", max_retries=0) as client:

            async def one(messages):
                async with gate:
                    await client.chat.completions.create(
                        model=server.model_name,
                        messages=messages,
                        max_tokens=max_tokens,
                        temperature=0.0,
                    )

            await asyncio.gather(*(one(m) for m in prompts))

    started = time.perf_counter()
    asyncio.run(run())
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=24)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print only the final JSON line")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print

    from prefsmith.endpoints.local_server import LocalServer
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.labelers.runner import run_labeler, store_items

    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-judge-"))
    store = build_store(work, args.pairs)
    with LocalServer() as server:
        options = {
            "endpoint": server.base_url,
            "model": server.model_name,
            "max_tokens": args.max_tokens,
            "max_concurrency": args.concurrency,
            "parse_retries": 0,  # the ceiling never asks twice
        }
        probe = build_labeler("judge", options)
        items = sorted(
            store_items(store, "pair"),
            key=lambda i: sum(map(len, i.contents)) + sum(len(m["content"]) for m in i.messages),
        )
        prompts = probe._both_orders(items)
        say(f"{len(items)} pairs, {len(prompts)} requests per round, server {server.base_url}")
        ceiling_best = judge_best = float("inf")
        for round_ in range(args.rounds):
            seconds = ceiling(server, prompts, args.max_tokens, args.concurrency)
            ceiling_best = min(ceiling_best, seconds)
            labeler = build_labeler("judge", {**options, "name": f"judge-round-{round_}"})
            summary = run_labeler(store, labeler)
            judge_best = min(judge_best, summary["seconds"])
            say(f"round {round_}: ceiling {seconds:.1f} s, judge {summary['seconds']:.1f} s")
        before = server_requests(server)
        if before < args.rounds * 2 * len(prompts):
            raise SystemExit("the server's access log does not count the requests it answered")
        rerun = run_labeler(store, build_labeler("judge", {**options, "name": "judge-round-0"}))
        rerun_requests = server_requests(server) - before
    result = {
        "pairs": len(items),
        "requests_per_round": len(prompts),
        "max_tokens": args.max_tokens,
        "concurrency": args.concurrency,
        "ceiling_judgments_per_s": round(len(items) / ceiling_best, 3),
        "judge_judgments_per_s": round(len(items) / judge_best, 3),
        "judge_vs_ceiling": round(ceiling_best / judge_best, 3),
        "rerun_cached": rerun["cached"],
        "rerun_requests": rerun_requests,
    }
    targets = {"judge_vs_ceiling": (">=", 0.9), "rerun_requests": ("<=", 0)}
    check_targets(result, targets, say)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
