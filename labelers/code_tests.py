"""An answer's code and a prompt's tests -> one program that runs them and reports each test.

Tests come from the prompt's metadata, in the layouts their owners publish:
- `tests`: a list of assert lines (`assert add(1, 2) == 3`), or of stdin/stdout pairs
  (`{"input": "1 2\\n", "output": "3\\n"}`);
- MBPP: `test_list` (assert lines), with `test_setup_code` run first when present;
- HumanEval: `test` (code defining `check(candidate)`) and `entry_point`: one test,
  `check(<entry_point>)`;
- APPS: `input_output`, JSON text `{"inputs": [...], "outputs": [...]}`.

The program defines the answer's code once for assert tests (as `__solution__`, so its
`if __name__ == "__main__":` block does not wait for input), or runs it as `__main__`
once per stdin/stdout pair. Each test reports on a copy of the program's stdout taken
before the answer runs: passed, failed (an assertion or a wrong output), timeout (the
test's own time, from an interval timer), crashed (any other exception). The answer's code
is the Python fenced block of the answer (the one defining the entry point, else the
longest), or the whole answer when it has no fence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[^\n]*\n(.*?)```", re.DOTALL)
OUTCOMES = ("passed", "failed", "timeout", "crashed", "syntax_error")


def code_of(answer: str, entry_point: str | None = None) -> str:
    """The Python code of an answer (see the module docstring)."""
    blocks = [
        body for language, body in _FENCE.findall(answer)
        if language.lower() in ("", "python", "py", "python3")
    ]  # fmt: skip
    if not blocks:
        return answer if "```" not in answer else ""
    if entry_point:
        defining = [b for b in blocks if re.search(rf"def\s+{re.escape(entry_point)}\s*\(", b)]
        if defining:
            return defining[0]
    return max(blocks, key=len)


def tests_of(metadata: Mapping[str, Any]) -> dict[str, Any] | None:
    """{"asserts": [...], "setup": str} or {"io": [(stdin, stdout), ...]}, None if none."""
    tests = metadata.get("tests")
    if isinstance(tests, list) and tests:
        if all(isinstance(t, str) for t in tests):
            return {"asserts": tests, "setup": ""}
        if all(isinstance(t, Mapping) and "input" in t and "output" in t for t in tests):
            return {"io": [(str(t["input"]), str(t["output"])) for t in tests]}
    if isinstance(metadata.get("test_list"), list) and metadata["test_list"]:
        return {
            "asserts": list(metadata["test_list"]),
            "setup": metadata.get("test_setup_code") or "",
        }
    if isinstance(metadata.get("test"), str) and isinstance(metadata.get("entry_point"), str):
        check = f"check({metadata['entry_point']})"
        return {"asserts": [check], "setup": metadata["test"]}
    raw = metadata.get("input_output")
    if isinstance(raw, str) and raw.strip():
        try:
            pairs = json.loads(raw)
            inputs, outputs = map(_text, pairs["inputs"]), map(_text, pairs["outputs"])
            return {"io": list(zip(inputs, outputs, strict=True))}
        except (ValueError, KeyError, TypeError):
            return None
    return None


def _text(value: Any) -> str:
    return "\n".join(map(str, value)) if isinstance(value, list) else str(value)


def program(code: str, tests: dict[str, Any], per_test_s: float) -> str:
    """The program that runs `tests` against `code`, reporting each test's outcome on the
    sandbox's report channel (labelers/sandbox.py: `Sandbox.run`), in order."""
    return _HARNESS.format(
        code=repr(code), per_test=per_test_s, asserts=repr(tests.get("asserts")),
        setup=repr(tests.get("setup", "")), io=repr(tests.get("io")),
    )  # fmt: skip


# The harness keeps its state in a closure, not in module globals the answer could reach
# through `sys.modules["__main__"]`; the nonce that makes a report count is never in this
# text. (An answer that digs through the interpreter's memory can still find it: running
# untrusted code in the process that checks it is what HumanEval's harness does too.)
_HARNESS = """\
import io, os, signal, sys
def _harness(report, nonce_fd):
    nonce = os.read(nonce_fd, 64).decode()
    os.close(nonce_fd)
    class Late(BaseException): pass
    def late(*_): raise Late()
    signal.signal(signal.SIGALRM, late)
    def say(what):
        os.write(report, (nonce + " " + what + "\\n").encode())
    def run(source, scope, stdin=None):
        signal.setitimer(signal.ITIMER_REAL, {per_test})
        try:
            if stdin is not None:
                sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
                sys.stdout = io.TextIOWrapper(io.BytesIO(), write_through=True)
            try:
                exec(source, scope)
            except SystemExit:
                pass
            return sys.stdout.buffer.getvalue().decode(errors="replace") if stdin is not None else None
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            sys.stdin, sys.stdout = sys.__stdin__, sys.__stdout__
    def verdict(call):
        try:
            return call()
        except AssertionError:
            return "failed"
        except Late:
            return "timeout"
        except BaseException as error:
            sys.stderr.write(type(error).__name__ + ": " + str(error)[:300] + "\\n")
            return "crashed"
    try:
        code = compile({code}, "answer.py", "exec")
    except (SyntaxError, ValueError):
        say("syntax_error")
        return
    asserts, pairs = {asserts}, {io}
    if asserts is not None:
        scope = {{"__name__": "__solution__"}}
        loaded = verdict(lambda: run(code, scope) or "loaded")
        if loaded == "loaded" and {setup}:
            loaded = verdict(lambda: run({setup}, scope) or "loaded")
        for test in asserts:
            if loaded != "loaded":
                say(loaded if loaded != "failed" else "crashed")
                continue
            say(verdict(lambda: run(test, scope) or "passed"))
        return
    for given, expected in pairs:
        def one():
            got = run(code, {{"__name__": "__main__"}}, given)
            same = [l.rstrip() for l in got.strip().splitlines()] == [
                l.rstrip() for l in expected.strip().splitlines()]
            return "passed" if same else "failed"
        say(verdict(one))
_harness(int(sys.argv[1]), int(sys.argv[2]))
del _harness
"""
