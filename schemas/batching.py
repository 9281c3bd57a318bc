"""Splitting an iterable into lists of a fixed size."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of `size` items (the last one shorter), without materialising `items`."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch
