"""Progress bars on stderr (rich), quiet when stderr is not a terminal."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

stderr = Console(stderr=True)


@contextmanager
def progress_bar(
    description: str, total: float | None, unit: str = "items"
) -> Iterator[Callable[[float], None]]:
    """Yields `set_completed(done, total=None)`; shows bytes with transfer speed, or items
    with items/s. A total learned late (after a cache check) can be passed with `done`."""
    if unit == "bytes":
        columns = [DownloadColumn(), TransferSpeedColumn()]
    else:
        columns = [MofNCompleteColumn(), TextColumn("{task.fields[rate]}")]
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        *columns,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr,
        transient=False,
        disable=not stderr.is_terminal,
    )
    with progress:
        task = progress.add_task(description, total=total, rate="")

        def set_completed(done: float, total: float | None = None) -> None:
            elapsed = progress.tasks[task].elapsed or 0.0
            rate = f"{done / elapsed:,.1f} {unit}/s" if elapsed > 0 else ""
            if total is not None:
                progress.update(task, total=total)
            progress.update(task, completed=done, rate=rate)

        yield set_completed
