"""The keys of one table, held as 16 bytes each rather than as Python strings.

Every key the store writes is an XXH3-128 hex digest (schemas/ids.py): 32 characters that
pack into 16 bytes without loss, so membership is exact. A set of Python strings costs
about 110 bytes a key (10M labels: more than 1 GB) and one object per key; here a key
costs 16 bytes in a sorted numpy array and a batch is checked with one binary search.
New keys land in a small sorted run merged into the main one when it grows, so a write
costs the same at 10M keys as at 10k. A key that is not a hex digest (a test's `p1`)
is kept in a plain set beside the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

KEY_BYTES = 16
EMPTY = np.empty(0, dtype=f"S{KEY_BYTES}")
HEX_KEY = f"^[0-9a-f]{{{2 * KEY_BYTES}}}$"


def pack(keys: Sequence[str] | pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, list]:
    """(the hex keys as 16-byte values, a mask of which keys those were, the other keys)."""
    import polars as pl

    series = pl.Series("key", keys, dtype=pl.String)
    is_hex = series.str.contains(HEX_KEY).fill_null(False)
    packed = series.filter(is_hex).str.decode("hex").to_arrow()
    packed = pa.compute.cast(packed, pa.binary(KEY_BYTES))
    if isinstance(packed, pa.ChunkedArray):
        packed = packed.combine_chunks()
    values = np.frombuffer(
        packed.buffers()[1], dtype=EMPTY.dtype, count=len(packed), offset=packed.offset * KEY_BYTES
    ).copy()
    mask = is_hex.to_numpy()
    others = series.filter(~is_hex).to_list() if not mask.all() else []
    return values, mask, others


def _in_sorted(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    if not len(sorted_values) or not len(values):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_values, values)
    at[at == len(sorted_values)] = 0
    return sorted_values[at] == values


class KeyIndex:
    """A set of keys with batch membership: `index.contains(keys)` is a boolean array."""

    def __init__(self) -> None:
        self._main = EMPTY
        self._recent = EMPTY
        self._others: set[str] = set()

    def __len__(self) -> int:
        return len(self._main) + len(self._recent) + len(self._others)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and bool(self.contains([key])[0])

    def contains(self, keys: Sequence[str] | pa.Array | pa.ChunkedArray) -> np.ndarray:
        """For each key, whether it is in the index."""
        values, mask, others = pack(keys)
        found = np.zeros(len(mask), dtype=bool)
        found[mask] = _in_sorted(self._main, values) | _in_sorted(self._recent, values)
        if others:
            found[~mask] = [key in self._others for key in others]
        return found

    def add(self, keys: Sequence[str] | pa.Array | pa.ChunkedArray) -> None:
        """Add keys (those already in the index are not added twice)."""
        values, _, others = pack(keys)
        self._others.update(others)
        values = np.unique(values)
        values = values[~(_in_sorted(self._main, values) | _in_sorted(self._recent, values))]
        if not len(values):
            return
        self._recent = np.sort(np.concatenate([self._recent, values]), kind="stable")
        # Merge when the recent run is an eighth of the main one: each key is copied a
        # bounded number of times on average, and a lookup binary-searches two arrays.
        if len(self._recent) > max(65_536, len(self._main) // 8):
            self._main = np.sort(np.concatenate([self._main, self._recent]), kind="stable")
            self._recent = EMPTY
