import json
import signal
import subprocess
import sys
import textwrap

import polars as pl
import pyarrow.parquet as pq
import pytest

from prefsmith.cli.app import app
from prefsmith.schemas.records import Label, Prompt, to_table
from prefsmith.store import Store
from prefsmith.store.compaction import MAX_SMALL_PARTS, compact
from tests.cli_runner import run_json, runner


def prompts(*texts: str) -> list[Prompt]:
    return [Prompt(messages=[{"role": "user", "content": t}], source="test") for t in texts]


def filled(store_dir, writes: int = 10) -> Store:
    store = Store(store_dir)
    for w in range(writes):
        store.write("prompts", to_table("prompts", prompts(*(f"q{w}-{i}" for i in range(20)))))
    return store


def rows(store: Store) -> pl.DataFrame:
    return store.scan("prompts").collect().sort("prompt_id")


def files(store_dir) -> list[str]:
    return sorted(p.name for p in (store_dir / "prompts").rglob("*") if p.is_file())


def test_compaction_merges_parts_and_keeps_every_row(store_dir) -> None:
    store = filled(store_dir)
    before = rows(store)
    assert len(store.parts("prompts")) == 10
    result = compact(store)
    assert result["prompts"] == {
        "parts_before": 10, "parts_after": 1, "rows": 200, "duplicates_dropped": 0,
        "files_removed": 0,
    }  # fmt: skip
    assert len(store.parts("prompts")) == 1 and store.count("prompts") == 200
    assert rows(Store(store_dir)).equals(before)
    # Another writer's key cache still knows every key: a rerun adds nothing.
    again = Store(store_dir).write("prompts", to_table("prompts", prompts("q3-4", "new")))
    assert (again.added, again.duplicates) == (1, 1)


def test_a_reader_that_listed_before_the_compaction_reads_on(store_dir) -> None:
    store = filled(store_dir)
    listed = store.scan("prompts")  # lazy: opens its ten parts only when collected
    compact(store)
    assert listed.collect().height == 200
    assert len(files(store_dir)) == 10 + 1 + 1  # replaced parts, merged part, record
    compact(store, retain_seconds=0)  # past the retention: the replaced files go
    assert files(store_dir) == [store.parts("prompts")[0].name]
    assert rows(store).height == 200


def test_compaction_keeps_the_newest_copy_of_a_key(store_dir) -> None:
    store = Store(store_dir)

    def label(note: str) -> Label:
        return Label("human:x", "fp", "score", "p", ["a"], [1.0], details={"note": note})

    store.write("labels", to_table("labels", [label("v1")]))
    with store.locked():  # what a `replace` killed half-way leaves: two copies of a key
        store.publish(
            "labels", set(), lambda path: pq.write_table(to_table("labels", [label("v2")]), path)
        )
    assert store.count("labels") == 2
    assert compact(store)["labels"]["duplicates_dropped"] == 1
    assert store.count("labels") == 1
    assert json.loads(store.scan("labels").collect()["details"][0])["note"] == "v2"


def test_writes_compact_by_themselves(store_dir) -> None:
    store = filled(store_dir, writes=MAX_SMALL_PARTS + 6)
    assert len(store.parts("prompts")) <= MAX_SMALL_PARTS
    assert store.count("prompts") == 20 * (MAX_SMALL_PARTS + 6)
    assert rows(store)["prompt_id"].n_unique() == store.count("prompts")


KILL_AT = {
    # the merged part written, its record in place, killed at the part's rename
    "part rename": "os.replace = lambda a, b, *k: die() if str(b).endswith('.parquet') else real(a, b)",
    # killed at the record's rename: no record, no merged part
    "record rename": "os.replace = lambda a, b, *k: die() if str(b).endswith('.json') else real(a, b)",
    # an earlier compaction's replaced files deleted, its record not yet
    "cleanup": "pathlib.Path.unlink = lambda p, **k: die() if p.suffix == '.json' else real_unlink(p, **k)",
}


@pytest.mark.parametrize("point", KILL_AT)
def test_a_compaction_killed_anywhere_loses_nothing(store_dir, point) -> None:
    store = filled(store_dir)
    before = rows(store)
    if point == "cleanup":
        compact(store)
    script = textwrap.dedent(
        f"""
        import os, pathlib, signal
        from prefsmith.store import Store
        from prefsmith.store.compaction import compact
        real, real_unlink = os.replace, pathlib.Path.unlink
        def die():
            os.kill(os.getpid(), signal.SIGKILL)
        {KILL_AT[point]}
        compact(Store({str(store_dir)!r}), retain_seconds=0)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False)
    assert done.returncode == -signal.SIGKILL
    reopened = Store(store_dir)
    assert rows(reopened).equals(before) and reopened.count("prompts") == 200
    compact(reopened, retain_seconds=0)
    compact(reopened, retain_seconds=0)
    assert files(store_dir) == [p.name for p in reopened.parts("prompts")]
    assert len(reopened.parts("prompts")) == 1 and rows(reopened).equals(before)


def test_store_compact_on_the_command_line(store_dir) -> None:
    filled(store_dir, writes=3)
    summary = run_json("store", "compact", "--store", str(store_dir))
    assert summary["tables"]["prompts"]["parts_after"] == 1
    again = run_json("store", "compact", "--store", str(store_dir), "--retain-minutes", "0")
    assert again["tables"]["prompts"] == {
        "parts_before": 1, "parts_after": 1, "rows": 0, "duplicates_dropped": 0,
        "files_removed": 3,
    }  # fmt: skip
    text = runner.invoke(app, ["store", "compact", "--store", str(store_dir)])
    assert text.exit_code == 0 and "prompts" in text.stdout
    bad = runner.invoke(app, ["store", "compact", "--store", str(store_dir), "--table", "nope"])
    assert bad.exit_code == 2 and "error: --table nope: no such table" in bad.output
