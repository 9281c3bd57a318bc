import os
import signal
import subprocess
import sys
import textwrap

import pyarrow.parquet as pq
import pytest

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.records import Prompt, Reject, to_table
from prefsmith.store import Store


def prompts(*texts: str) -> list[Prompt]:
    return [Prompt(messages=[{"role": "user", "content": t}], source="test") for t in texts]


def test_write_dedupes_within_a_batch_and_against_the_store(store_dir):
    store = Store(store_dir)
    first = store.write("prompts", to_table("prompts", prompts("a", "b", "a")))
    assert (first.added, first.duplicates) == (2, 1)
    second = store.write("prompts", to_table("prompts", prompts("b", "c")))
    assert (second.added, second.duplicates) == (1, 1)
    assert store.count("prompts") == 3
    frame = store.scan("prompts").collect()
    assert sorted(m[0]["content"] for m in frame["messages"].to_list()) == ["a", "b", "c"]
    assert frame["prompt_id"].n_unique() == 3


def test_a_second_store_object_sees_parts_written_by_another(store_dir):
    writer, other = Store(store_dir), Store(store_dir)
    other.keys("prompts")  # warm its key cache before the other writer adds rows
    writer.write("prompts", to_table("prompts", prompts("a")))
    result = other.write("prompts", to_table("prompts", prompts("a", "b")))
    assert (result.added, result.duplicates) == (1, 1)


def test_empty_store_reads_as_empty_tables(store_dir):
    store = Store(store_dir)
    assert store.scan("labels").collect().height == 0
    assert store.summary() == {
        "tables": {"prompts": 0, "candidates": 0, "labels": 0, "rejects": 0},
        "rejects_by_reason": {},
        "labels_by_labeler": {},
    }


def test_summary_counts_rejects_by_reason(store_dir):
    store = Store(store_dir)
    rejects = [Reject("f", i, reason, "{}") for i, reason in enumerate(["a", "b", "a"])]
    store.write("rejects", to_table("rejects", rejects))
    assert store.summary()["rejects_by_reason"] == {"a": 2, "b": 1}


def test_unknown_table_and_file_as_store_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="unknown table"):
        Store(tmp_path).parts("nope")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        Store(tmp_path / "file")


def test_a_write_killed_before_the_rename_leaves_the_store_unchanged(store_dir):
    store = Store(store_dir)
    store.write("prompts", to_table("prompts", prompts("kept")))
    before = store.scan("prompts").collect()
    # A real process, killed by SIGKILL between writing the temp file and renaming it.
    script = textwrap.dedent(
        f"""
        import os, signal
        from prefsmith.store import Store
        from prefsmith.schemas.records import Prompt, to_table
        os.replace = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)
        rows = [Prompt(messages=[{{"role": "user", "content": "lost"}}], source="t")]
        Store({str(store_dir)!r}).write("prompts", to_table("prompts", rows))
        """
    )
    done = subprocess.run([sys.executable, "-c", script], check=False)
    assert done.returncode == -signal.SIGKILL
    assert any(p.name.startswith(".tmp-") for p in (store_dir / "prompts").iterdir())
    reopened = Store(store_dir)
    assert reopened.scan("prompts").collect().equals(before)
    assert reopened.count("prompts") == 1
    # The next write cleans the leftover and stores the row for real.
    assert reopened.write("prompts", to_table("prompts", prompts("lost"))).added == 1
    assert not any(p.name.startswith(".tmp-") for p in (store_dir / "prompts").iterdir())
    assert reopened.count("prompts") == 2
    assert os.listdir(store_dir / "prompts")


def test_replace_rewrites_rows_by_key_and_repairs_a_half_done_replace(store_dir):
    from prefsmith.schemas.records import Label, load_json

    store = Store(store_dir)

    def label(item: str, note: str) -> Label:
        return Label("human:x", "fp", "score", "p", [item], [1.0], details={"note": note})

    store.write("labels", to_table("labels", [label("a", "v1"), label("b", "v1")]))
    store.write("labels", to_table("labels", [label("c", "v1")]))
    assert store.replace("labels", to_table("labels", [label("a", "v2")])) == 1
    rows = {
        r["candidate_ids"][0]: load_json(r["details"])["note"]
        for r in store.scan("labels").collect().to_dicts()
    }
    assert rows == {"a": "v2", "b": "v1", "c": "v1"} and store.count("labels") == 3
    # A crash after the new part landed leaves two versions; the next replace keeps one.
    stray = to_table("labels", [label("b", "v2")])
    with store._locked():
        store.publish("labels", set(), lambda path: pq.write_table(stray, path))
    assert store.count("labels") == 4
    store.replace("labels", to_table("labels", [label("b", "v3")]))
    rows = {
        r["candidate_ids"][0]: load_json(r["details"])["note"]
        for r in store.scan("labels").collect().to_dicts()
    }
    assert rows == {"a": "v2", "b": "v3", "c": "v1"} and store.count("labels") == 3
