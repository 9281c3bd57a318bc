"""Near-duplicate prompts: MinHash over word shingles, LSH to find candidates (datasketch),
Jaccard at or above the threshold to join them, one prompt kept per cluster (the one with the
most labels, ties by id). Exact text duplicates already share a prompt id."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np

from prefsmith.builders.decontamination import words

SHINGLE = 3  # words per shingle: prompts are short
NUM_PERM = 64


def shingles(text: str, size: int = SHINGLE) -> set[bytes]:
    tokens = words(text)
    if len(tokens) <= size:
        return {" ".join(tokens).encode()} if tokens else set()
    return {" ".join(tokens[i : i + size]).encode() for i in range(len(tokens) - size + 1)}


def _root(parent: dict[str, str], key: str) -> str:
    while parent[key] != key:
        parent[key] = parent[parent[key]]
        key = parent[key]
    return key


def near_duplicate_clusters(
    texts: Mapping[str, str], threshold: float, *, num_perm: int = NUM_PERM, batch: int = 10_000
) -> list[list[str]]:
    """Clusters (of two or more ids) of texts whose estimated Jaccard similarity of word
    shingles is at least `threshold`; ids in each cluster sorted."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
    signatures: dict[str, np.ndarray] = {}
    parent: dict[str, str] = {}
    ids = list(texts)
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        hashes = MinHash.bulk([shingles(texts[i]) or {b""} for i in chunk], num_perm=num_perm)
        for key, minhash in zip(chunk, hashes, strict=True):
            lean = LeanMinHash(minhash)
            parent[key] = key
            for other in lsh.query(lean):
                if _jaccard(lean.hashvalues, signatures[other]) >= threshold:
                    a, b = _root(parent, key), _root(parent, other)
                    if a != b:
                        parent[max(a, b)] = min(a, b)
            lsh.insert(key, lean, check_duplication=False)
            signatures[key] = lean.hashvalues
    clusters: dict[str, list[str]] = {}
    for key in ids:
        clusters.setdefault(_root(parent, key), []).append(key)
    return [sorted(members) for members in clusters.values() if len(members) > 1]


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a == b)) / len(a)


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
