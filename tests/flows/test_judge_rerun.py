"""A judge run killed mid-way (SIGKILL, the way a lost worker dies), then rerun from the
command line: every pair ends labeled exactly once, and only unlabeled pairs are asked again."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from fake_openai import FakeOpenAI, completion

from prefsmith.schemas.records import Candidate, Prompt, to_table
from prefsmith.store import Store

PROMPTS, ANSWERS = 6, 3  # 6 x 3 pairs


def slow_judge(body):
    time.sleep(0.1)  # slow enough to kill the run between writes
    prompt = body["messages"][-1]["content"]
    first = prompt.split("[Response A]")[1].split("[Response B]")[0]
    second = prompt.split("[Response B]")[1].split("After a short explanation")[0]
    return 200, completion("[[A]]" if len(first) >= len(second) else "[[B]]")


def label_command(store_dir, url: str) -> list[str]:
    return [
        sys.executable, "-m", "prefsmith.cli.app", "label", "--labeler", "judge",
        "--endpoint", url, "--model", "judge", "--store", str(store_dir),
        "--batch-size", "2", "--max-concurrency", "2", "--json",
    ]  # fmt: skip


@pytest.mark.prefect
def test_a_killed_judge_run_rerun_finishes_with_no_duplicate_and_no_lost_label(store_dir):
    store = Store(store_dir)
    prompts = [
        Prompt(messages=[{"role": "user", "content": f"Question {i}"}], source="t")
        for i in range(PROMPTS)
    ]
    store.write("prompts", to_table("prompts", prompts))
    candidates = [
        Candidate(p.prompt_id, "answer " + "x" * n, "t") for p in prompts for n in range(ANSWERS)
    ]
    store.write("candidates", to_table("candidates", candidates))
    pairs = PROMPTS * ANSWERS * (ANSWERS - 1) // 2
    stub = FakeOpenAI(slow_judge)
    try:
        run = subprocess.Popen(
            label_command(store_dir, stub.url),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while not store.parts("labels") and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
        before = store.count("labels")
        assert 0 < before < pairs, "the kill should land between the first and the last write"
        asked_before = len(stub.calls)

        rerun = subprocess.run(
            label_command(store_dir, stub.url), capture_output=True, text=True, timeout=300
        )
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        summary = json.loads(rerun.stdout.strip().splitlines()[-1])
        assert (summary["cached"], summary["labeled"]) == (before, pairs - before), json.dumps(
            summary
        )
        assert len(stub.calls) - asked_before == 2 * (pairs - before)  # nothing paid twice
        labels = store.scan("labels").collect()
        assert labels.height == pairs and labels["label_id"].n_unique() == pairs
        assert labels["error"].null_count() == pairs
    finally:
        stub.close()
