"""What the README and docs/ show runs as shown.

Every `prefsmith` command of every `bash` block, and every command shape of a `text` block, is
parsed by the real command line: the command exists, each flag is one of its flags, and a
pasteable command's values convert (numbers, switches, files that must exist). Then the
commands run, as a reader pastes them, on the bundled data in one folder where /tmp/ stands
for a temporary one: the README's math pipeline, its walkthrough (store /tmp/s), then each
page of docs/ in the store the walkthrough left. A command that needs the Hub, a paid key, a
GPU, Label Studio or a server of your own says so in its comment and is skipped by that name;
a whole run config (`(a long run)`) is left to tests/flows/test_pipeline.py.
"""

from __future__ import annotations

import json
import shlex
import time
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


def test_a_bash_block_holds_commands_to_paste() -> None:
    """A command's shape (`[--flag X]`, `S`, `NAME`) goes in a `text` block: a `bash` block is
    run by the tests below, as a reader would paste it."""
    shapes = [
        f"{c.where}: {c.text[:60]}" for c in COMMANDS if not c.synopsis and c.looks_like_a_shape
    ]
    assert shapes == []
    assert DocCommand(REPO / "README.md", 1, "prefsmith label --store S", "", 1).looks_like_a_shape


def block_of(marker: str) -> list[DocCommand]:
    """The README block whose commands use the store `marker` (/tmp/s, /tmp/m)."""
    block = next(c.block for c in COMMANDS if c.path.name == "README.md" and marker in c.text)
    return [c for c in doc_commands([REPO / "README.md"]) if c.block == block]


class Tour:
    """Runs doc commands as shown, one after another, in one folder that sees the repository's
    data and configs, with /tmp/ moved into it; a command already run is not run twice."""

    def __init__(self, root: Path, long_runs: bool = False) -> None:
        self.root, self.long_runs = root, long_runs
        for folder in ("data", "configs", "tests"):
            (root / folder).symlink_to(REPO / folder)
        self.ran: dict[str, dict] = {}  # each command's `--json` summary, by its words
        self.skipped: list[str] = []

    def run(self, commands: list[DocCommand]) -> dict[str, dict]:
        """Each command's `--json` summary by its first two words (`train rm`)."""
        summaries = {}
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(self.root)
            for doc in commands:
                why = self._skip(doc)
                if why:
                    self.skipped.append(f"{doc.where} {why}")
                    continue
                words = [w.replace("/tmp/", f"{self.root}/") for w in doc.words[1:]]
                key = shlex.join(words)
                if key not in self.ran:
                    self.ran[key] = self._invoke(doc, words)
                summaries[" ".join(words[:2])] = self.ran[key]
        return summaries

    def _skip(self, doc: DocCommand) -> str | None:
        if doc.needs:
            return f"needs {doc.needs}"
        if doc.long_run and not self.long_runs:
            return "a long run"
        if doc.until_stopped:
            return "a server"
        return None if doc.words[0] == "prefsmith" else "not prefsmith"  # `source .venv/...`

    def _invoke(self, doc: DocCommand, words: list[str]) -> dict:
        started = time.monotonic()
        result = runner.invoke(app, [*words, "--json"])
        print(f"{time.monotonic() - started:6.1f} s  {doc.where} {doc.text[:70]}")
        assert result.exit_code == 0, f"{doc.where}: prefsmith {shlex.join(words)}\n{result.output}"
        lines = result.stdout.strip().splitlines()
        return json.loads(lines[-1]) if lines else {}


@pytest.fixture(scope="module")
def tour(tmp_path_factory) -> Tour:
    return Tour(tmp_path_factory.mktemp("tour"))


@pytest.mark.slow
@pytest.mark.prefect
def test_the_readme_math_pipeline_runs_as_shown(tour: Tour) -> None:
    ran = tour.run(block_of("/tmp/m"))
    assert ran["build preference"]["rows"] > 0
    assert ran["eval labelers"]["labelers"]["judge"]["n"] > 0  # it met the check's pairs


@pytest.mark.slow
@pytest.mark.prefect
def test_the_readme_walkthrough_runs_as_shown(tour: Tour) -> None:
    """The README's tour, top to bottom: ingest, generate, label, build, train, evaluate."""
    ran = tour.run(block_of("/tmp/s"))
    assert ran["ingest hh-rlhf"]["rows_used"] == 598
    assert ran["train rm"]["test_pairs"] > 0
    assert ran["train dpo"]["test_rows"] == 8  # --eval-rows: a CPU smoke run
    assert ran["eval labelers"]["labelers"]["rm-hh"]["in_training"] > 0
    assert (tour.root / "hh-pairs" / "README.md").is_file()  # `export --to ./hh-pairs`


DOCS_PAGES = sorted({c.path for c in COMMANDS if c.path.parent.name == "docs"})


@pytest.mark.slow
@pytest.mark.prefect
@pytest.mark.parametrize("page", DOCS_PAGES, ids=lambda path: path.name)
def test_each_docs_page_runs_as_shown(page: Path, tour: Tour) -> None:
    """Each page's commands, in the store the README's walkthrough left (/tmp/s); a page's
    commands that the README already ran are not run again."""
    if not tour.ran:
        pytest.skip("runs after the README's walkthrough (run this module whole)")
    commands = [c for c in doc_commands([page]) if not c.synopsis]
    tour.run(commands)  # each command exits 0, or the test fails naming it
    print("skipped by name:", *tour.skipped, sep="\n  ")


@pytest.mark.long_run  # about an hour on 2 cores: `pytest -m long_run`, not in the default run
@pytest.mark.prefect
def test_the_long_runs_run_as_shown(tmp_path: Path) -> None:
    """The lines marked `(a long run)`: whole run configs and the self-rewarding loop, as shown
    (the quickstart config also runs in tests/flows/test_pipeline.py, in the default run)."""
    tour = Tour(tmp_path, long_runs=True)
    tour.run(block_of("/tmp/s")[:2])  # the store the README's long lines continue
    ran = tour.run([c for c in COMMANDS if c.long_run and not c.synopsis])
    assert ran["run configs/quickstart.yaml"]["report"]
    assert len(ran["self-reward --store"]["iterations"]) == 2
