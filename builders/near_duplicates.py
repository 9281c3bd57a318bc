"""Near-duplicate prompts: MinHash signatures of word shingles (datasketch), LSH bands to find
candidates, estimated Jaccard at or above the threshold to join them, one prompt kept per
cluster (the one with the most labels, ties by id). Exact text duplicates already share a
prompt id. `python -m bench.dedup` measures a million prompts."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from prefsmith.builders.decontamination import words

SHINGLE = 3  # words per shingle: prompts are short
NUM_PERM = 128


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def signatures(
    texts: Iterable[str], *, num_perm: int = NUM_PERM, batch: int = 10_000
) -> np.ndarray:
    """MinHash signatures (datasketch) of the texts' word shingles, one uint32 row per text:
    datasketch's hash values fit in 32 bits, so a million prompts take 512 MB at 128 perms."""

    rows: list[np.ndarray] = []
    chunk: list[set[bytes]] = []
    for text in texts:
        chunk.append(shingles(text) or {b""})
        if len(chunk) == batch:
            rows.append(_signed(chunk, num_perm))
            chunk = []
    if chunk:
        rows.append(_signed(chunk, num_perm))
    return np.concatenate(rows) if rows else np.zeros((0, num_perm), dtype=np.uint32)


def _signed(chunk: list[set[bytes]], num_perm: int) -> np.ndarray:
    from datasketch import MinHash

    hashes = MinHash.bulk(chunk, num_perm=num_perm)
    return np.stack([h.hashvalues for h in hashes]).astype(np.uint32)


def near_duplicate_clusters(
    texts: Mapping[str, str], threshold: float, *, num_perm: int = NUM_PERM
) -> list[list[str]]:
    """Clusters (of two or more ids) of texts whose estimated Jaccard similarity of word
    shingles is at least `threshold`; ids in each cluster sorted.

    LSH over the signature matrix: datasketch's band layout for the threshold, each band's
    rows grouped with numpy (no per-key Python objects); a bucket's members are joined to
    its first when their exact shingle Jaccard reaches the threshold."""
    from datasketch.lsh import _optimal_param

    ids = list(texts)
    matrix = signatures((texts[i] for i in ids), num_perm=num_perm)
    cache: dict[int, set[bytes]] = {}

    def shingled(index: int) -> set[bytes]:
        if index not in cache:
            cache[index] = shingles(texts[ids[index]])
        return cache[index]

    # False negatives weigh more: a false candidate is only a check, a missed copy stays.
    bands, rows = _optimal_param(threshold, num_perm, 0.1, 0.9)
    parent = np.arange(len(ids))
    for band in range(bands):
        keys = np.ascontiguousarray(matrix[:, band * rows : (band + 1) * rows])
        keys = keys.view(np.dtype((np.void, keys.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        sizes = np.diff(np.r_[starts, len(order)])
        for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
            members = [int(m) for m in order[start : start + size]]
            first = shingled(members[0])
            for other in members[1:]:
                if _jaccard(first, shingled(other)) >= threshold:
                    _union(parent, members[0], other)
    clusters: dict[int, list[str]] = {}
    for index, key in enumerate(ids):
        clusters.setdefault(_find(parent, index), []).append(key)
    return [sorted(members) for members in clusters.values() if len(members) > 1]


def _jaccard(a: set[bytes], b: set[bytes]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _find(parent: np.ndarray, index: int) -> int:
    while parent[index] != index:
        parent[index] = parent[parent[index]]
        index = int(parent[index])
    return index


def _union(parent: np.ndarray, a: int, b: int) -> None:
    a, b = _find(parent, a), _find(parent, b)
    if a != b:
        parent[max(a, b)] = min(a, b)


def dropped_near_duplicates(
    texts: Mapping[str, str], threshold: float, label_counts: Mapping[str, int]
) -> dict[str, str]:
    """{dropped prompt id: the prompt id kept in its cluster}: the kept one has the most
    labels, ties broken by the smaller id."""
    dropped = {}
    for cluster in near_duplicate_clusters(texts, threshold):
        keep = min(cluster, key=lambda pid: (-label_counts.get(pid, 0), pid))
        dropped.update({pid: keep for pid in cluster if pid != keep})
    return dropped


def prompt_text(messages: Iterable[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages)
