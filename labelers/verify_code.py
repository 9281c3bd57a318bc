"""`verify-code`: run the answer's Python against the prompt's tests; the fraction passed.

    prefsmith label --labeler verify-code --store S [--option timeout_s=10 memory_mb=1024]

Tests come from prompt metadata (`tests`: assert lines or stdin/stdout pairs; MBPP's
`test_list`; HumanEval's `test` + `entry_point`; APPS' `input_output`: see
labelers/code_tests.py); a prompt without any is skipped as `no_tests`. Each answer runs
in its own confined process (labelers/sandbox.py: wall-clock, CPU, memory and process
limits, its own temporary directory, no secrets in its environment, no network, writes
only in its directory, its whole process group killed at the end), answers in parallel
across cores. Details say `passed`, `failed`, `timeout`, `crashed`, `syntax_error` or
`no_code` (no Python in the answer): outcomes of the answer, scored, never labeler errors.
"""

from __future__ import annotations

import logging
import math
import os
import signal
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import Field

from prefsmith.labelers.base import Item, Labeler, LabelerOptions
from prefsmith.labelers.code_tests import code_of, program, tests_of
from prefsmith.labelers.sandbox import Limits, Sandbox
from prefsmith.schemas.records import Label
from prefsmith.schemas.secrets import scrub

_log = logging.getLogger("prefsmith")
HARNESS_VERSION = 2
TEST_OUTCOMES = ("passed", "failed", "timeout", "crashed")


class VerifyCodeOptions(LabelerOptions):
    timeout_s: float = Field(default=10.0, gt=0, description="Wall-clock seconds per answer.")
    per_test_s: float | None = Field(
        default=None, gt=0, description="Seconds per test (default: timeout_s)."
    )
    memory_mb: int = Field(default=1024, ge=64, description="Address-space limit per answer.")
    processes: int = Field(default=64, ge=1, description="Processes an answer may start.")
    network: Literal["deny", "allow"] = Field(
        default="deny", description="allow: run without a private network namespace."
    )
    workers: int | None = Field(
        default=None, ge=1, description="Answers run at once (default: the CPU cores)."
    )


class VerifyCodeLabeler(Labeler):
    key = "verify-code"
    unit = "candidate"
    kind = "score"
    Options = VerifyCodeOptions
    options: VerifyCodeOptions

    def __init__(self, options: VerifyCodeOptions) -> None:
        super().__init__(options)
        self.sandbox: Sandbox | None = None

    @property
    def workers(self) -> int:
        return self.options.workers or os.cpu_count() or 1

    @property
    def batch_size(self) -> int:
        return self.options.batch_size or 8 * self.workers

    def fingerprint_parts(self) -> dict[str, Any]:
        o = self.options
        return {
            "check": "code", "harness": HARNESS_VERSION, "timeout_s": o.timeout_s,
            "per_test_s": o.per_test_s, "memory_mb": o.memory_mb, "network": o.network,
        }  # fmt: skip

    def skip_reason(self, item: Item) -> str | None:
        return None if tests_of(item.metadata) else "no_tests"

    def load(self) -> None:
        if self.sandbox is not None:
            return
        o = self.options
        limits = Limits(
            timeout_s=o.timeout_s, cpu_s=math.ceil(o.timeout_s) + 1, memory_mb=o.memory_mb,
            processes=o.processes, network=o.network,
        )  # fmt: skip
        sandbox = Sandbox(limits)
        sandbox.check()
        if os.geteuid() == 0 and sandbox.cgroups is None:
            _log.warning(
                "verify-code runs as root without a pids cgroup it may use: the process "
                "limit does not hold, only the time limits do (run as a regular user)"
            )
        self.sandbox = sandbox

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    def label_batch(self, items: list[Item]) -> list[Label]:
        self.load()
        with ThreadPoolExecutor(self.workers) as pool:
            return list(pool.map(self.check, items))

    def check(self, item: Item) -> Label:
        """Run one answer against its prompt's tests."""
        tests = tests_of(item.metadata) or {}
        total = len(tests.get("asserts") or tests.get("io") or [])
        if total == 0:
            return self.make_label(item, None, error="no_tests: nothing to run")
        code = code_of(item.contents[0], item.metadata.get("entry_point"))
        if not code.strip():
            return self.make_label(item, [0.0], {"outcome": "no_code", "passed": 0, "total": total})
        per_test = self.options.per_test_s or self.options.timeout_s
        ended = self.sandbox.run(program(code, tests, per_test))
        said = ended.reports
        if said == ["syntax_error"]:
            details = {"outcome": "syntax_error", "passed": 0, "total": total}
            return self.make_label(item, [0.0], details)
        if len(said) > total or not set(said) <= set(TEST_OUTCOMES):
            said = ["crashed"] * total  # reports the harness never writes: not to be trusted
        out_of_time = ended.timed_out or ended.returncode in (-signal.SIGXCPU, -signal.SIGKILL)
        said += ["timeout" if out_of_time else "crashed"] * (total - len(said))
        passed = said.count("passed")
        outcome = next(
            (o for o in ("timeout", "crashed", "failed") if o in said), "passed"
        )  # fmt: skip
        details = {
            "outcome": outcome, "passed": passed, "total": total, "tests": said,
            "seconds": round(ended.seconds, 3),
            **({"stderr": scrub(ended.stderr[-500:])} if outcome != "passed" else {}),
        }  # fmt: skip
        return self.make_label(item, [passed / total], details)
