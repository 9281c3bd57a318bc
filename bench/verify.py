"""Verifier speed: verify-code's sandboxed runs and verify-math's checks.

    python -m bench.verify [--programs 120] [--answers 3000] [--json]

Measured in the same run, on the same inputs:

  code, bare       the baseline: a `subprocess.run([python, "-c", program])` loop over the
                   programs (each program: an answer's function and its three assert tests,
                   the harness verify-code runs), no limits, no confinement
  code, sandboxed  `VerifyCodeLabeler.label_batch` over the same answers: each in its own
                   confined process (limits, namespaces, Landlock, a cgroup as root), run in
                   parallel across the cores as a labeling run does; and with one worker
  math, direct     the baseline: math-verify's own `parse` of the whole answer and `verify`
                   against the parsed reference, as a reward function written by hand does
  math, labeler    `VerifyMathLabeler.label_batch`: the answer conventions, then math-verify

Answers are distinct texts (math-verify caches parses), built from the bundled MT-Bench math
references: right and wrong results in each answer convention. Targets: sandboxed runs/s
>= 0.8x the bare loop; verify-math >= 500 checks/s on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time

from prefsmith.labelers.base import Item
from prefsmith.labelers.code_tests import program
from prefsmith.labelers.registry import build_labeler

from .common import check_targets, data_file

TESTS = ["assert f(1, 2) == {0}", "assert f(5, 5) == {1}", "assert f(0, 7) == {2}"]
FORMS = ("The answer is {}.", "#### {}", "So we get \\boxed{{{}}}", "A: {}", "In total, {} items")


def code_items(count: int) -> list[Item]:
    """Answers defining `f` (some right, some wrong) with three assert tests each."""
    items = []
    for i in range(count):
        k = i % 7
        body = f"return a + b + {k}" if i % 3 else f"return a * b + {k}"
        tests = [t.format(*v) for t, v in zip(TESTS, [(3 + k, 10 + k, 7 + k)] * 3, strict=True)]
        answer = f"```python\ndef f(a, b):\n    # answer {i}\n    {body}\n```"
        items.append(Item(f"p{i}", [{"role": "user", "content": "?"}], [f"c{i}"], [answer],
                          metadata={"tests": tests}))  # fmt: skip
    return items


def math_items(count: int) -> list[Item]:
    """Distinct answers to the MT-Bench math questions, right and wrong, in each convention."""
    rows = [json.loads(line) for line in data_file("prompts/mt_bench_questions.jsonl").open()]
    rows = [r for r in rows if r["category"] == "math"]
    references = {"111": 3, "112": 12000, "115": 38, "117": 19, "119": 280}
    rng, items = random.Random(0), []
    for i in range(count):
        row = rows[i % len(rows)]
        right = references.get(str(row["question_id"]), 0)
        value = right if i % 2 else right + rng.randint(1, 99)
        text = f"Step {i}: working it out. " + FORMS[i % len(FORMS)].format(value)
        items.append(Item(f"q{i}", [{"role": "user", "content": row["turns"][0]}], [f"a{i}"],
                          [text], metadata={"reference": row["reference"]}))  # fmt: skip
    return items


def bare_code(items: list[Item], seconds: float) -> float:
    """The same programs, each given its report file and nonce pipe as the sandbox gives
    them, run by a plain `subprocess.run`."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as report:
        for item in items:
            code = item.contents[0].split("```python\n")[1].split("```")[0]
            source = program(code, {"asserts": item.metadata["tests"], "setup": ""}, seconds)
            nonce_read, nonce_write = os.pipe()
            os.write(nonce_write, b"0" * 32)
            os.close(nonce_write)
            fds = (report.fileno(), nonce_read)
            subprocess.run([sys.executable, "-c", source, *map(str, fds)], pass_fds=fds,
                           capture_output=True, timeout=seconds)  # fmt: skip
            os.close(nonce_read)
    return time.perf_counter() - started


def timed(labeler, items: list[Item]) -> tuple[float, list]:
    labeler.load()
    started = time.perf_counter()
    labels = []
    for start in range(0, len(items), labeler.batch_size):
        labels += labeler.label_batch(items[start : start + labeler.batch_size])
    seconds = time.perf_counter() - started
    labeler.close()
    return seconds, labels


def direct_math(items: list[Item]) -> float:
    from math_verify import parse, verify

    started = time.perf_counter()
    for item in items:
        gold = parse(item.metadata["reference"][0])
        verify(gold, parse(item.contents[0]))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--programs", type=int, default=120)
    parser.add_argument("--answers", type=int, default=3000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    say = (lambda text: None) if args.json else print
    programs = code_items(args.programs)
    bare_s = bare_code(programs, 10.0)
    sandboxed_s, labels = timed(build_labeler("verify-code", {}), programs)
    serial_s, _ = timed(build_labeler("verify-code", {"workers": 1}), programs)
    answers = math_items(args.answers)
    direct_s = direct_math(answers)
    math_s, checks = timed(build_labeler("verify-math", {}), answers)
    result = {
        "programs": len(programs),
        "bare_runs_per_s": round(len(programs) / bare_s, 2),
        "sandboxed_runs_per_s": round(len(programs) / sandboxed_s, 2),
        "sandboxed_one_worker_runs_per_s": round(len(programs) / serial_s, 2),
        "sandboxed_vs_bare": round(bare_s / sandboxed_s, 3),
        "one_worker_vs_bare": round(bare_s / serial_s, 3),
        "code_passed": sum(label.details.get("outcome") == "passed" for label in labels),
        "answers": len(answers),
        "direct_math_checks_per_s": round(len(answers) / direct_s),
        "math_checks_per_s": round(len(answers) / math_s),
        "math_vs_direct": round(direct_s / math_s, 3),
        "math_right": sum(label.scores == [1.0] for label in checks),
    }
    say(
        f"verify-code: bare loop {result['bare_runs_per_s']} runs/s, sandboxed "
        f"{result['sandboxed_runs_per_s']} runs/s ({result['sandboxed_vs_bare']}x; one worker "
        f"{result['sandboxed_one_worker_runs_per_s']} runs/s, {result['one_worker_vs_bare']}x); "
        f"{result['code_passed']}/{len(programs)} passed"
    )
    say(
        f"verify-math: {result['math_checks_per_s']} checks/s against math-verify direct "
        f"{result['direct_math_checks_per_s']} checks/s ({result['math_vs_direct']}x); "
        f"{result['math_right']}/{len(answers)} right"
    )
    check_targets(result, {"sandboxed_vs_bare": (">=", 0.8), "math_checks_per_s": (">=", 500)}, say)
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
