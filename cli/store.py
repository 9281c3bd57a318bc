"""`prefsmith store compact`: a store's small parts merged into large ones."""

from __future__ import annotations

from typing import Annotated

import typer

from prefsmith.cli.common import JsonOption, StoreOption, emit, require_store, user_errors
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import DEFAULT_STORE

store_app = typer.Typer(help="Upkeep of the store: compact.", no_args_is_help=True)


@store_app.command("compact")
@user_errors
def compact(
    store: StoreOption = DEFAULT_STORE,
    table: Annotated[
        list[str] | None, typer.Option("--table", help="Only this table (repeat for more).")
    ] = None,
    retain_minutes: Annotated[
        float,
        typer.Option(
            "--retain-minutes",
            help="Keep replaced parts this long for readers that listed them before.",
        ),
    ] = 60.0,
    json_: JsonOption = False,
) -> None:
    """Merge each table's small parts into large ones and drop duplicate keys. Readers
    are safe while it runs; writers wait. Parts replaced more than --retain-minutes ago
    are deleted. Writes also compact by themselves once a table holds 64 small parts."""
    from prefsmith.schemas.records import TABLES
    from prefsmith.store import Store
    from prefsmith.store.compaction import compact as compact_store

    require_store(store)
    unknown = [name for name in table or [] if name not in TABLES]
    if unknown:
        raise UserError(f"--table {unknown[0]}: no such table (tables: {', '.join(TABLES)})")
    if retain_minutes < 0:
        raise UserError("--retain-minutes must be 0 or more")
    result = compact_store(Store(store), table or None, retain_minutes * 60)
    if json_:
        emit({"command": "store compact", "tables": result}, True, "")
        return
    rows = {
        name: f"{t['parts_before']} -> {t['parts_after']} parts, {t['rows']} rows merged, "
        f"{t['duplicates_dropped']} duplicates dropped, {t['files_removed']} old files removed"
        for name, t in result.items()
    }
    emit(rows, False, f"store compact {store}")
