"""verify-code: each outcome, each test layout (MBPP, HumanEval, stdin/stdout), and hostile
code that must stay contained while the labeling run goes on."""

from __future__ import annotations

import json
import os
import socket
import uuid
from pathlib import Path

import polars as pl
import pytest

from prefsmith.labelers.base import Item
from prefsmith.labelers.registry import build_labeler
from prefsmith.schemas.records import Candidate, load_json, to_table
from prefsmith.store import Store
from tests.cli_runner import run_json

WORLD = Path(__file__).parents[1] / "data" / "world"
ADD_TESTS = ["assert add(1, 2) == 3", "assert add(2, 0) == 2"]


@pytest.fixture(scope="module")
def labeler():
    labeler = build_labeler("verify-code", {"timeout_s": 4})
    labeler.load()
    yield labeler
    labeler.close()  # the cgroups it made, as root


def _item(answer: str, **metadata) -> Item:
    return Item("p", [{"role": "user", "content": "?"}], ["c"], [answer], metadata=metadata)


def _python(code: str) -> str:
    return f"Here is the code:\n```python\n{code}\n```\nIt works."


@pytest.mark.parametrize(
    ("code", "score", "outcome", "tests"),
    [
        ("def add(a, b):\n    return a + b", 1.0, "passed", ["passed", "passed"]),
        ("def add(a, b):\n    return a + b if b else 0", 0.5, "failed", ["passed", "failed"]),
        ("def add(a, b):\n    while True:\n        pass", 0.0, "timeout", ["timeout", "timeout"]),
        ("def add(a, b):\n    return a + c", 0.0, "crashed", ["crashed", "crashed"]),
        ("raise SystemError('at import')", 0.0, "crashed", ["crashed", "crashed"]),
        ("def add(a, b) return a + b", 0.0, "syntax_error", None),
    ],
)
def test_each_outcome_is_a_score(labeler, code, score, outcome, tests) -> None:
    label = labeler.check(_item(_python(code), tests=ADD_TESTS))
    assert label.error is None
    assert (label.scores, label.details["outcome"], label.details.get("tests")) == (
        [score], outcome, tests,
    )  # fmt: skip


def test_stdin_stdout_pairs(labeler) -> None:
    io_tests = [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5\n", "output": "10"}]
    right = _python("a, b = map(int, input().split())\nprint(a + b)")
    wrong = _python("a, b = map(int, input().split())\nprint(a - b)")
    assert labeler.check(_item(right, tests=io_tests)).scores == [1.0]
    assert labeler.check(_item(wrong, tests=io_tests)).scores == [0.0]


def test_mbpp_and_humaneval_rows_as_published(labeler) -> None:
    mbpp = json.loads((WORLD / "mbpp.jsonl").read_text().splitlines()[0])
    assert labeler.check(_item(_python(mbpp["code"]), **mbpp)).scores == [1.0]
    wrong = "def similar_elements(a, b):\n    return tuple(a)"
    assert labeler.check(_item(_python(wrong), **mbpp)).details["outcome"] == "failed"
    human = json.loads((WORLD / "humaneval.jsonl").read_text())
    solution = human["prompt"] + human["canonical_solution"]
    example = "```python\nprint(has_close_elements([1.0], 0.5))\n```"
    answer = f"{_python(solution)}\nUsage:\n{example}"  # the block defining the entry point runs
    assert labeler.check(_item(answer, **human)).scores == [1.0]


def test_a_prompt_without_tests_is_skipped(labeler) -> None:
    assert labeler.skip_reason(_item("x")) == "no_tests"
    assert labeler.skip_reason(_item("x", tests=ADD_TESTS)) is None


# Hostile code: each is contained, reported as an outcome, and the run goes on.


def test_a_fork_bomb_is_contained(labeler) -> None:
    before = _processes()
    label = labeler.check(_item(_python("import os\nwhile True:\n    os.fork()"), tests=ADD_TESTS))
    assert label.details["outcome"] in ("crashed", "timeout") and label.scores == [0.0]
    assert _processes() <= before + 2  # every forked process is gone


def test_an_infinite_loop_times_out(labeler) -> None:
    label = labeler.check(_item(_python("while True:\n    pass"), tests=ADD_TESTS))
    assert label.details["outcome"] == "timeout" and label.details["seconds"] < 8


def test_a_10_gb_allocation_fails_inside(labeler) -> None:
    code = "big = bytearray(10 * 1024 ** 3)\ndef add(a, b):\n    return a + b"
    label = labeler.check(_item(_python(code), tests=ADD_TESTS))
    assert label.details["outcome"] == "crashed" and "MemoryError" in label.details["stderr"]


def test_no_connection_reaches_a_local_listener(labeler) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    code = (
        "import socket\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'stolen')\n"
        "def add(a, b):\n    return a + b"
    )
    label = labeler.check(_item(_python(code), tests=ADD_TESTS))
    assert label.details["outcome"] == "crashed"
    with pytest.raises(BlockingIOError):
        listener.accept()  # nobody connected
    listener.close()


def test_no_write_outside_its_directory(labeler, tmp_path: Path) -> None:
    target = tmp_path / f"escaped-{uuid.uuid4().hex}"
    code = (
        f"open({str(target)!r}, 'w').write('x')\n"
        "open('inside.txt', 'w').write('fine')\n"
        "def add(a, b):\n    return a + b"
    )
    label = labeler.check(_item(_python(code), tests=ADD_TESTS))
    assert label.details["outcome"] == "crashed" and "PermissionError" in label.details["stderr"]
    assert not target.exists()
    inside_only = "open('inside.txt', 'w').write('fine')\ndef add(a, b):\n    return a + b"
    assert labeler.check(_item(_python(inside_only), tests=ADD_TESTS)).scores == [1.0]


def test_no_api_key_in_its_environment(labeler, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-prefsmith-test-secret")
    code = "import os\nKEY = os.environ.get('OPENAI_API_KEY')\ndef add(a, b):\n    return a + b"
    tests = ["assert KEY is None", "assert add(1, 2) == 3"]
    label = labeler.check(_item(_python(code), tests=tests))
    assert label.scores == [1.0]  # the key is not there to read
    leak = "import os\nprint(os.environ)\nraise SystemExit(os.environ.get('OPENAI_API_KEY'))"
    assert "sk-prefsmith" not in json.dumps(
        labeler.check(_item(_python(leak), tests=tests)).details
    )


def test_forged_reports_do_not_count(labeler) -> None:
    wrong = "def add(a, b):\n    return 0\n"
    forgeries = [
        "import os\nfor fd in range(3, 20):\n    try:\n        os.write(fd, b'x passed\\n' * 9)\n"
        "    except OSError:\n        pass\n",  # the report channel, without the nonce
        "import os\nos.write(1, b'passed\\n' * 9)\nos._exit(0)\n",  # stdout, then leave early
        "import sys\nsys.modules['__main__'].__dict__.clear()\n",  # the harness's globals
        "import os, glob\nfor f in glob.glob('../.*'):\n    open(f, 'w').write('passed')\n",
    ]
    for forgery in forgeries:
        label = labeler.check(_item(_python(wrong + forgery), tests=ADD_TESTS))
        assert label.scores == [0.0], (forgery, label.details)


def test_no_unix_socket_and_no_mode_change_outside(labeler, tmp_path: Path) -> None:
    path = tmp_path / "host.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen()
    listener.setblocking(False)
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0o600)
    code = (
        "import os, socket\n"
        f"for attempt in (lambda: os.chmod({str(secret)!r}, 0o777),\n"
        f"                lambda: socket.socket(socket.AF_UNIX).connect({str(path)!r})):\n"
        "    try:\n        attempt()\n    except OSError as error:\n        print(error)\n"
        "def add(a, b):\n    return a + b"
    )
    label = labeler.check(_item(_python(code), tests=ADD_TESTS))
    assert label.scores == [1.0]  # the attempts failed; the answer itself is right
    with pytest.raises(BlockingIOError):
        listener.accept()
    assert secret.stat().st_mode & 0o777 == 0o600
    listener.close()


def test_a_labeling_run_goes_on_through_hostile_answers(tmp_path: Path) -> None:
    store_dir = tmp_path / "store"
    run_json("ingest", "prompts", str(WORLD / "mbpp.jsonl"), "--prompt-field", "text",
             "--store", str(store_dir))  # fmt: skip
    store = Store(store_dir)
    prompt_id = store.scan("prompts").select("prompt_id", "metadata").collect()
    prompt_id = next(p for p, m in prompt_id.iter_rows() if load_json(m)["task_id"] == 2)
    mbpp = json.loads((WORLD / "mbpp.jsonl").read_text().splitlines()[0])
    answers = {
        "passed": _python(mbpp["code"]),
        "timeout": _python("while True:\n    pass"),
        "crashed": _python("import os\nwhile True:\n    os.fork()"),
        "syntax_error": _python("def similar_elements(a, b) return a"),
    }
    candidates = {k: Candidate(prompt_id, v, origin="test") for k, v in answers.items()}
    store.write("candidates", to_table("candidates", list(candidates.values())))
    summary = run_json("label", "--labeler", "verify-code", "--option", "timeout_s=3",
                       "--store", str(store_dir))  # fmt: skip
    assert summary["labeled"] == 4 and summary["errors"] == 0
    assert "skipped" not in summary  # the one prompt has tests
    labels = store.scan("labels").filter(pl.col("labeler") == "verify-code").collect()
    outcome = {
        r["candidate_ids"][0]: json.loads(r["details"])["outcome"] for r in labels.to_dicts()
    }
    assert {k: outcome[c.candidate_id] for k, c in candidates.items()} == {
        "passed": "passed", "timeout": "timeout", "crashed": "crashed",
        "syntax_error": "syntax_error",
    }  # fmt: skip


def _processes() -> int:
    """Live processes on the machine (zombies, already dead, wait for init to reap them)."""
    live = 0
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            live += Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            continue
    return live
