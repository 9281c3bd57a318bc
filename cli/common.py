"""What every `prefsmith` command shares: one-line errors, summaries, common options.

Imports stay light (typer, rich): `--help` and `status` must not pay for Prefect.
"""

from __future__ import annotations

import functools
import inspect
import json
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import DEFAULT_STORE

stdout = Console()
errors = Console(stderr=True)

StoreOption = Annotated[
    str, typer.Option("--store", envvar="PREFSMITH_STORE", help="Store directory.")
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON line instead of tables.")]
F = TypeVar("F", bound=Callable[..., Any])


def common_parameters(*, store: bool = False, json_: bool = False) -> list[inspect.Parameter]:
    """`--store` and `--json` as parameters of a command whose options are generated."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    parameters = []
    if store:
        parameters.append(inspect.Parameter("store", keyword, default=DEFAULT_STORE,
                                            annotation=StoreOption))  # fmt: skip
    if json_:
        parameters.append(inspect.Parameter("json_", keyword, default=False, annotation=JsonOption))
    return parameters


def fail(message: str, code: int) -> typer.Exit:
    errors.print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)
    return typer.Exit(code)


def user_errors(command: F) -> F:
    """One `error: ...` line instead of a traceback: exit 2 for a user mistake, 1 for the
    machine (permission denied, disk full), 130 for Ctrl-C (what was written stays)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except UserError as error:
            raise fail(str(error), 2) from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise fail(f"{error.strerror or error}{where}", 1) from None
        except KeyboardInterrupt:
            raise fail(
                "interrupted; rerun the same command to finish (nothing is lost)", 130
            ) from None

    return wrapper  # type: ignore[return-value]


def emit(summary: dict[str, Any], as_json: bool, title: str) -> None:
    """Print a command's summary: one JSON line, or a readable table."""
    if as_json:
        sys.stdout.write(json.dumps(summary, default=str) + "\n")
        return
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        elif isinstance(value, list | tuple):
            value = ", ".join(map(str, value)) or "-"
        table.add_row(key.replace("_", " "), str(value))
    stdout.print(table)


def parse_pairs(text: str | None, flag: str) -> dict[str, str]:
    """`a=x,b=y` -> {"a": "x", "b": "y"}."""
    result = {}
    for item in filter(None, (part.strip() for part in (text or "").split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise UserError(f"{flag}: {item!r} is not NAME=VALUE")
        result[key.strip()] = value.strip()
    return result


def parse_float(text: str, flag: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{flag}: {text!r} is not a number") from None


def require_store(store: str) -> None:
    """UserError unless `store` is an existing store directory."""
    from pathlib import Path

    if not Path(store).is_dir():
        raise UserError(f"no store at {store} (run `prefsmith ingest ...` first)")
