"""The commands the README and docs/ show: every `bash` block, split into commands, and the
command shapes of `text` blocks (`prefsmith build --store S [--flag X]`).

A `bash` block holds commands to paste, and the tests run them. A command that needs what a
test machine cannot have says so in its comment, by name: `# needs the Hub`, `# needs a paid
key`, `# needs a GPU`, `# needs Label Studio`, `# needs a server` (your own endpoint, cluster
or API). The tests skip those by that name. A command marked `(a long run)` runs a whole run
config or loop (minutes on 2 cores), which a test of its own runs (tests/flows/test_pipeline.py:
the quickstart); one that says `runs until Ctrl-C` is a server.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).parents[2]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
NEEDS = ("the Hub", "a paid key", "a GPU", "Label Studio", "a server")
# A placeholder is an upper-case word the reader replaces: S, NAME, ORG/NAME, ID_OR_PATH.
PLACEHOLDER = re.compile(r"(?<![\w.-])(S|DIR|NAME|M|URL|SOURCE|FILE|LABELER|ID_OR_PATH)(?![\w.])")


@dataclass(frozen=True)
class DocCommand:
    """One command of a doc block: where it is, its words, its comment and its block."""

    path: Path
    line: int
    text: str
    comment: str
    block: int
    fence: str = "bash"

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(REPO)}:{self.line}"

    @property
    def words(self) -> list[str]:
        return shlex.split(self.text)

    @property
    def needs(self) -> str | None:
        """What the command needs that a test machine lacks, as its comment names it."""
        return next((need for need in NEEDS if f"needs {need}" in self.comment), None)

    @property
    def long_run(self) -> bool:
        """A whole run config or loop (minutes): the walkthrough tests leave it to its own."""
        return "(a long run)" in self.comment

    @property
    def until_stopped(self) -> bool:
        """A server: it runs until Ctrl-C."""
        return "runs until Ctrl-C" in self.comment

    @property
    def synopsis(self) -> bool:
        """A command's shape, written in a `text` block: parsed, never run."""
        return self.fence != "bash"

    @property
    def looks_like_a_shape(self) -> bool:
        """`[--flag X]`, `...` or a placeholder: what a `bash` block must not hold."""
        return "[" in self.text or "..." in self.text or bool(PLACEHOLDER.search(self.text))


def split_comment(line: str) -> tuple[str, str]:
    """(the command part, the comment) of a shell line: `#` outside quotes after a space."""
    quote = None
    for index, char in enumerate(line):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.rstrip(), ""


def doc_commands(paths: list[Path] = DOCS) -> list[DocCommand]:
    """Every command of every `bash` block and every `prefsmith` shape of every `text` block,
    continuation lines joined."""
    commands = []
    for path in paths:
        fence, block, text, comments, start = None, 0, "", [], 0
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("```"):
                fence = None if fence is not None else line[3:].strip()
                block += fence is not None
                continue
            if fence not in ("bash", "text"):
                continue
            if fence == "text" and not (text or line.startswith("prefsmith ")):
                continue  # a text block's other lines: output, a prompt's rendering
            part, comment = split_comment(line)
            if not text:
                start = number
            if comment:
                comments.append(comment)
            if part.endswith("\\"):
                text += part[:-1] + " "
                continue
            text += part
            if text.strip():
                commands.append(
                    DocCommand(path, start, text.strip(), " ".join(comments), block, fence)
                )
            text, comments = "", []
    return commands
