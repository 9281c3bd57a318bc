"""Push and pull against Label Studio's own bulk import and export, on the same data.

    python -m bench.label_studio [--tasks 10000] [--json]

A real Label Studio (from .ls-venv, started like the tests start it) and a store of
synthetic ranking items (prompts from the hh-rlhf sample, two candidates each, a score
labeler for predictions):
  push_pull_vs_server  (server import of the same task JSON + server export of an annotated
                       project) / (`annotate push` of all items + `annotate pull` of that
                       annotated project). Target >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from .common import check_targets, data_file

ROOT = Path(__file__).resolve().parents[1]


def build_store(work: Path, tasks: int):
    from prefsmith.ingest.hh_rows import parse_pair
    from prefsmith.ingest.sources import SourceFile, iter_file
    from prefsmith.schemas.records import Candidate, Label, Prompt, to_table
    from prefsmith.store import Store

    source = SourceFile(data_file("hh-rlhf/harmless-base-test.first600.jsonl"), "jsonl")
    pairs = []
    for row in iter_file(source):
        try:
            pairs.append(parse_pair(row.record))
        except ValueError:
            continue
    prompts, candidates, labels = [], [], []
    for i in range(tasks):
        pair = pairs[i % len(pairs)]
        messages = [
            *pair.messages[:-1],
            {**pair.messages[-1], "content": f"{pair.messages[-1]['content']} (#{i})"},
        ]
        prompt = Prompt(messages=messages, source="bench")
        prompts.append(prompt)
        for text in (pair.chosen, pair.rejected):
            candidate = Candidate(prompt.prompt_id, text, "bench")
            candidates.append(candidate)
            labels.append(
                Label(
                    "rm-len",
                    "fp",
                    "score",
                    prompt.prompt_id,
                    [candidate.candidate_id],
                    [float(len(text))],
                )
            )
    store = Store(work / "store")
    store.write("prompts", to_table("prompts", prompts))
    store.write("candidates", to_table("candidates", candidates))
    store.write("labels", to_table("labels", labels))
    return store


def timed(function):
    started = time.perf_counter()
    result = function()
    return result, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--json", action="store_true", help="print only the final JSON line")
    args = parser.parse_args()
    say = (lambda *a: None) if args.json else print

    sys.path.insert(0, str(ROOT / "tests"))  # the tests' server launcher: one way to start it
    from label_studio_server import start_label_studio

    from prefsmith.annotation.label_studio import LabelStudio
    from prefsmith.annotation.tasks import candidate_items, pull, push, task_json

    work = Path(tempfile.mkdtemp(prefix="prefsmith-bench-ls-"))
    store = build_store(work, args.tasks)
    cache = Path.home() / ".cache" / "prefsmith-tests"
    server = start_label_studio(work, cache)
    try:
        studio = LabelStudio(server.url, server.token)
        me = studio.check()["id"]
        say(f"{args.tasks} items, Label Studio at {server.url}")
        pushed, push_seconds = timed(lambda: push(store, studio, "ours", labelers=["rm-len"]))
        assert pushed["created"] == args.tasks, pushed
        # The same task JSON (predictions included), imported by the server alone.
        raw = task_json(store, "ranker", candidate_items(store, "ranker", 4), ["rm-len"])
        baseline = studio.project("server-import", "ranker")
        _, import_seconds = timed(lambda: studio.import_tasks(baseline.id, raw))
        # An annotated project, built by import (one annotation per task), to pull from.
        annotated = studio.project("annotated", "ranker")
        with_answers = []
        for task in raw:
            order = [c["id"] for c in task["data"]["candidates"]]
            value = {"ranker": {"rank": order}}
            result = [
                {"from_name": "rank", "to_name": "candidates", "type": "ranker", "value": value}
            ]
            answer = {"result": result, "completed_by": me}
            with_answers.append({"data": task["data"], "annotations": [answer]})
        studio.import_tasks(annotated.id, with_answers)
        _, export_seconds = timed(lambda: studio.export_tasks(annotated.id))
        pulled, pull_seconds = timed(lambda: pull(store, studio, "annotated"))
        assert pulled["new"] == args.tasks, pulled
        say(f"push {push_seconds:.1f} s vs server import {import_seconds:.1f} s")
        say(f"pull {pull_seconds:.1f} s vs server export {export_seconds:.1f} s")
    finally:
        server.stop()
    result = {
        "tasks": args.tasks,
        "push_seconds": round(push_seconds, 2),
        "pull_seconds": round(pull_seconds, 2),
        "server_import_seconds": round(import_seconds, 2),
        "server_export_seconds": round(export_seconds, 2),
        "push_pull_vs_server": round(
            (import_seconds + export_seconds) / (push_seconds + pull_seconds), 3
        ),
    }
    check_targets(result, {"push_pull_vs_server": (">=", 0.5)}, say)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
