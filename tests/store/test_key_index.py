import numpy as np
import pyarrow as pa

from prefsmith.schemas.ids import hash_key
from prefsmith.store.key_index import KeyIndex


def test_membership_is_exact_for_digests_and_other_keys() -> None:
    stored = [hash_key(str(i)) for i in range(1000)]
    index = KeyIndex()
    index.add(stored[:500])
    index.add(pa.chunked_array([stored[500:]]))
    index.add(["p1", "P2", hash_key("x").upper()])  # not lowercase hex digests: kept as text
    assert len(index) == 1003
    asked = [*stored[::7], hash_key("new"), "p1", "p2", hash_key("x"), hash_key("x").upper()]
    expected = [True] * len(stored[::7]) + [False, True, False, False, True]
    assert index.contains(asked).tolist() == expected
    assert stored[3] in index and hash_key("absent") not in index and 5 not in index
    # Differs from a stored key only in its last byte: still absent.
    near = stored[0][:-2] + ("00" if stored[0][-2:] != "00" else "01")
    assert near not in index


def test_adding_keys_again_adds_nothing_and_runs_merge() -> None:
    index = KeyIndex()
    keys = [hash_key(str(i)) for i in range(200_000)]  # past the recent run's merge size
    for start in range(0, len(keys), 20_000):
        index.add(keys[start : start + 20_000])
    index.add(keys[:1000])
    assert len(index) == len(keys)
    probe = [*keys[::997], *(hash_key(f"n{i}") for i in range(200))]
    found = index.contains(probe)
    assert found[: len(keys[::997])].all() and not found[len(keys[::997]) :].any()
    assert isinstance(found, np.ndarray)


def test_an_empty_index_holds_nothing() -> None:
    assert KeyIndex().contains([hash_key("a"), "b"]).tolist() == [False, False]
    assert KeyIndex().contains([]).tolist() == []
