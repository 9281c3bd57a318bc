"""What the README and docs/ show runs as shown.

Every `prefsmith` command of every `bash` block is parsed by the real command line: the
command exists, each flag is one of its flags, and a pasteable command's values convert
(numbers, switches, files that must exist). The README's math pipeline then runs top to
bottom on the bundled data, in a temporary store, and so does its whole walkthrough under
`pytest -m walkthrough`; a command that needs the Hub, a paid key, a GPU, Label Studio or a
server of your own says so in its comment and is skipped by that name.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main

from prefsmith.cli.app import app
from tests.cli_runner import runner
from tests.docs.doc_commands import REPO, DocCommand, doc_commands, split_comment

COMMANDS = [
    c
    for c in doc_commands()
    if "prefsmith" in c.words[:2] and c.words[-1] != "..."  # `VAR=x prefsmith ...`: a shape
]
ROOT = typer.main.get_command(app)


def resolve(words: list[str]) -> tuple[Any, list[str], list[str]]:
    """(the command, its name path, its arguments) of `prefsmith WORDS...`."""
    words = words[words.index("prefsmith") + 1 :]
    command, names = ROOT, ["prefsmith"]
    while hasattr(command, "commands"):  # a group (typer's own click: no isinstance)
        assert words and not words[0].startswith("-"), f"{' '.join(names)} needs a command"
        found = command.commands.get(words[0])
        assert found is not None, f"`{' '.join(names)}` has no command {words[0]!r}"
        names.append(words.pop(0))
        command = found
    return command, names, words


def flags_of(command: Any) -> set[str]:
    return {flag for param in command.params for flag in (*param.opts, *param.secondary_opts)}


def check_parses(doc: DocCommand) -> None:
    """Raise unless the command exists, has each flag shown and, pasteable, takes its values."""
    command, names, words = resolve(doc.words)
    unknown = [w.split("=")[0] for w in words if w.startswith("--")]
    unknown = [flag for flag in unknown if flag not in flags_of(command)]
    assert unknown == [], f"{doc.where}: `{' '.join(names)}` has no {', '.join(unknown)}"
    if not doc.synopsis:
        with command.make_context(names[-1], list(words)):
            pass  # raises click's usage error for a bad value, a missing file, a wrong choice


@pytest.mark.parametrize("doc", COMMANDS, ids=lambda c: f"{c.where} {c.text[:60]}")
def test_each_documented_command_parses_as_shown(doc: DocCommand, monkeypatch) -> None:
    monkeypatch.chdir(REPO)  # the docs' paths are the repository's
    check_parses(doc)


@pytest.mark.parametrize(
    "text",
    [
        "prefsmith label --store /tmp/s --labeler judge --shards two",  # a number
        "prefsmith export --store /tmp/s --dataset d --to ./out --public maybe",  # a switch
        "prefsmith label --store /tmp/s --labeler judge --limit many",  # a number
        "prefsmith label --store /tmp/s --labeler judge --endpoints local",  # a flag
        "prefsmith build preferences --store /tmp/s",  # a command
        "prefsmith build --store S [--flag X]",  # a synopsis's flag
    ],
)
def test_a_wrong_command_in_a_doc_is_caught(text: str, monkeypatch) -> None:
    monkeypatch.chdir(REPO)
    with pytest.raises(Exception):  # noqa: B017 - click's usage errors and the asserts above
        check_parses(DocCommand(REPO / "README.md", 1, text, "", 1))


def test_the_reader_finds_commands_and_their_marks() -> None:
    """The parser itself: continuation lines, quoted `#`, marks in comments."""
    assert split_comment('prefsmith x --q "a # b" # needs the Hub') == (
        'prefsmith x --q "a # b"',
        "needs the Hub",
    )
    where = {c.where: c for c in COMMANDS}
    assert len(COMMANDS) > 100 and len({c.path for c in COMMANDS}) > 10
    hub = [c for c in COMMANDS if "hub://" in c.text or "Anthropic/hh-rlhf" in c.text]
    assert hub and all(c.needs == "the Hub" or c.synopsis for c in hub)
    joined = next(c for c in where.values() if "--decontaminate mt-bench,data" in c.text)
    assert "--redact-pii" in joined.words  # the line after the `\` belongs to it


def test_what_needs_the_outside_world_says_so() -> None:
    """A pasteable command that reaches past this machine carries its mark, so the walkthrough
    tests skip it by name instead of failing on it."""
    outside = {
        "hub://": "the Hub",
        "annotate push": "Label Studio",
        "annotate pull": "Label Studio",
        "dask://": "a server",
        "OPENAI_API_KEY": "a paid key",
    }
    missing = [
        f"{c.where}: {needs}"
        for c in COMMANDS
        if not c.synopsis
        for pattern, needs in outside.items()
        if pattern in c.text and c.needs != needs
    ]
    paid = [c for c in COMMANDS if "api.openai.com" in c.text and "--dry-run" not in c.words]
    missing += [f"{c.where}: a paid key" for c in paid if c.needs != "a paid key"]
    assert missing == []


def walkthrough(marker: str) -> list[DocCommand]:
    """The README block whose commands use the store `marker` (/tmp/s, /tmp/m)."""
    block = next(c.block for c in COMMANDS if c.path.name == "README.md" and marker in c.text)
    return [c for c in doc_commands([REPO / "README.md"]) if c.block == block]


def run_walkthrough(commands: list[DocCommand], tmp_path: Path, monkeypatch) -> dict:
    """Run each command as shown, in a folder that sees the repository's data and configs,
    with /tmp/ moved to tmp_path; returns each command's `--json` summary by its name."""
    for folder in ("data", "configs", "tests"):
        (tmp_path / folder).symlink_to(REPO / folder)
    monkeypatch.chdir(tmp_path)
    ran, skipped = {}, []
    for doc in commands:
        if doc.needs or doc.long_run:
            skipped.append(f"{doc.where} {f'needs {doc.needs}' if doc.needs else 'a long run'}")
            continue
        words = [w.replace("/tmp/", f"{tmp_path}/") for w in doc.words]
        if words[0] != "prefsmith":
            continue  # `source .venv/bin/activate`: the test runs in it already
        result = runner.invoke(app, [*words[1:], "--json"])
        assert result.exit_code == 0, f"{doc.where}: {shlex.join(words)}\n{result.output}"
        lines = result.stdout.strip().splitlines()
        ran[" ".join(words[1:3])] = json.loads(lines[-1]) if lines else {}
    print("skipped by name:", *skipped, sep="\n  ")
    return ran


@pytest.mark.slow
@pytest.mark.prefect
def test_the_readme_math_pipeline_runs_as_shown(tmp_path: Path, monkeypatch) -> None:
    ran = run_walkthrough(walkthrough("/tmp/m"), tmp_path, monkeypatch)
    assert ran["build preference"]["rows"] > 0
    assert ran["eval labelers"]["labelers"]["judge"]["n"] > 0  # it met the check's pairs


@pytest.mark.walkthrough  # 21 min on 2 cores: `pytest -m walkthrough`, not in the default run
@pytest.mark.prefect
def test_the_readme_walkthrough_runs_as_shown(tmp_path: Path, monkeypatch) -> None:
    """The README's tour, top to bottom: ingest, generate, label, build, train, evaluate."""
    ran = run_walkthrough(walkthrough("/tmp/s"), tmp_path, monkeypatch)
    assert ran["ingest hh-rlhf"]["rows_used"] == 598
    assert ran["train rm"]["test_pairs"] > 0
    assert ran["eval labelers"]["labelers"]["rm-hh"]["in_training"] > 0
    assert (tmp_path / "hh-pairs" / "README.md").is_file()  # `export --to ./hh-pairs`
