"""The store: append-only Parquet tables and the queries every layer needs.

Importing it has no side effects (no Prefect, no files): a notebook reads a store with
`from prefsmith.store import Store`.
"""

from prefsmith.store.queries import (
    candidates_of_origins,
    labels_of,
    load_manifest,
    texts_by_ids,
)
from prefsmith.store.tables import Store, starts_with_any

__all__ = [
    "Store",
    "candidates_of_origins",
    "labels_of",
    "load_manifest",
    "starts_with_any",
    "texts_by_ids",
]
