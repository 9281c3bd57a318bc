"""A built dataset on disk, in the Hugging Face Hub layout, written atomically:

    STORE/datasets/NAME/
      data/train-00000-of-00001.parquet   (or data/train.jsonl for OpenAI formats)
      README.md                           the dataset card: Hub metadata + provenance
      images/*.png                        label distributions, agreement matrix
      manifest.json                       inputs, config, counts, fingerprints, normalisation

The whole directory is built under a temporary name and renamed into place, so
a crash never leaves half a dataset and a rebuild replaces the old one at once.
"""

from __future__ import annotations

import json
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml
from jinja2 import Environment, FileSystemLoader

from prefsmith import __version__
from prefsmith.builders.agreement import agreement_matrix
from prefsmith.builders.pairs import opinions_from_labels
from prefsmith.schemas import locations
from prefsmith.schemas.builds import DatasetBuildConfig
from prefsmith.schemas.formats import ROW_FORMATS, RowFormat
from prefsmith.store import Store

TEMPLATES = locations.TEMPLATES


def _format(name: str | None) -> RowFormat:
    return ROW_FORMATS.get(name or "", RowFormat((), (), ""))


def size_category(rows: int) -> str:
    for limit, label in (
        (1_000, "n<1K"),
        (10_000, "1K<n<10K"),
        (100_000, "10K<n<100K"),
        (1_000_000, "100K<n<1M"),
    ):
        if rows < limit:
            return label
    return "1M<n<10M"


def _write_split(directory: Path, split: str, rows: list[dict[str, Any]], jsonl: bool) -> str:
    if jsonl:
        path = directory / f"{split}.jsonl"
        path.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    else:
        table = pa.Table.from_pylist(rows)
        if "margin" in table.column_names:
            table = table.set_column(
                table.schema.get_field_index("margin"), "margin", table["margin"].cast(pa.float64())
            )
        path = directory / f"{split}-00000-of-00001.parquet"
        pq.write_table(table, path, compression="zstd")
    return f"data/{path.name}"


def _plots(store: Store, sources: list[dict[str, Any]], directory: Path) -> tuple[list[dict], dict]:
    """Label distribution per labeler used, and the agreement matrix of every labeler in the store."""
    from matplotlib.figure import Figure  # not pyplot: no GUI backend, half the import time

    directory.mkdir()
    labels = store.scan("labels").filter(pl.col("error").is_null()).collect()
    images = []
    used = [s["labeler"] for s in sources]
    fig = Figure(figsize=(4 * len(used), 3))
    axes = fig.subplots(1, len(used), squeeze=False)
    for ax, name in zip(axes[0], used, strict=True):
        mine = labels.filter(pl.col("labeler") == name)
        if mine["kind"].drop_nulls().first() in ("score", "critique"):
            values = mine["scores"].list.first().drop_nulls().to_list()
            # numpy refuses 30 bins over a range narrower than float resolution
            spread = max(values) - min(values) if values else 0.0
            narrow = spread <= 1e-9 * max(1.0, abs(max(values, default=0.0)))
            ax.hist(values, bins=1 if narrow else 30, color="#4c72b0")
            ax.set_xlabel("score")
        else:
            first_wins = mine["scores"].list.first().to_list()
            counts = [
                sum(s == 1 for s in first_wins),
                sum(s == 0 for s in first_wins),
                sum(s == 0.5 for s in first_wins),
            ]
            ax.bar(["first wins", "second wins", "tie"], counts, color="#4c72b0")
        ax.set_title(name, fontsize=9)
    fig.tight_layout()
    fig.savefig(directory / "label_distributions.png", dpi=100)
    images.append({"title": "Label distributions", "path": "images/label_distributions.png"})
    names = sorted(set(labels["labeler"].to_list()))
    pairable = [
        opinions_from_labels(
            n,
            labels.filter(pl.col("labeler") == n)
            .select("kind", "prompt_id", "candidate_ids", "scores", "error")
            .to_dicts(),
        )
        for n in names
        if labels.filter(pl.col("labeler") == n)["kind"].n_unique() == 1
        and labels.filter(pl.col("labeler") == n)["kind"][0] in ("score", "pairwise", "ranking")
    ]
    matrix = agreement_matrix(pairable) if len(pairable) > 1 else {}
    if matrix:
        keys = list(matrix)
        values = [
            [
                matrix[a][b].agreement if matrix[a][b].agreement is not None else float("nan")
                for b in keys
            ]
            for a in keys
        ]
        fig = Figure(figsize=(1.5 + len(keys), 1 + len(keys)))
        ax = fig.subplots()
        shown = ax.imshow(values, vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(keys)), keys, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(keys)), keys, fontsize=8)
        fig.colorbar(shown, ax=ax, label="agreement")
        fig.tight_layout()
        fig.savefig(directory / "agreement.png", dpi=100)
        images.append({"title": "Agreement between labelers", "path": "images/agreement.png"})
    return images, {a: {b: cell.to_dict() for b, cell in row.items()} for a, row in matrix.items()}


def _card(
    manifest: dict[str, Any], images: list[dict], agreement: dict, data_files: dict[str, str]
) -> str:
    config = manifest["config"]
    metadata = {
        "license": config.get("license") or "other",
        "task_categories": ["text-generation"],
        "tags": list(dict.fromkeys(["rlhf", "preference", "prefsmith", manifest["kind"]])),
        "size_categories": [size_category(manifest["rows"])],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": f"data/{s}*"} for s in data_files],
            }
        ],
    }
    template = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=False, trim_blocks=True)
    return template.get_template("dataset_card.md.j2").render(
        metadata=yaml.safe_dump(metadata, sort_keys=False).strip(),
        name=manifest["name"],
        description=f"A {manifest['kind']} dataset built from the labels listed below.",
        version=__version__,
        created_at=manifest["created_at"],
        splits=manifest["splits"],
        format=config.get("format"),
        format_note=_format(config.get("format")).note,
        seed=config.get("seed"),
        sources=manifest["prompt_sources"],
        labelers=manifest["labelers"],
        drops=manifest["drops"],
        length_bias=manifest.get("length_bias"),
        pii=manifest.get("pii_redacted"),
        agreement={a: {b: _Cell(**c) for b, c in row.items()} for a, row in agreement.items()},
        images=images,
        config=json.dumps(config, indent=2),
    )


class _Cell:
    def __init__(self, n: int, agreement: float | None, kappa: float | None) -> None:
        self.n, self.agreement, self.kappa = n, agreement, kappa


def write_dataset(
    store: Store,
    config: DatasetBuildConfig,
    kind: str,
    rows: dict[str, list[dict[str, Any]]],
    summary: dict[str, Any],
    *,
    label_sources: list[dict[str, Any]],
    manifest_extra: dict[str, Any] | None = None,
) -> Path:
    """Write (or replace) STORE/datasets/NAME atomically; returns its path."""
    root = store.root / "datasets"
    root.mkdir(parents=True, exist_ok=True)
    final, tmp = root / config.name, root / f".tmp-{config.name}-{uuid.uuid4().hex[:8]}"
    (tmp / "data").mkdir(parents=True)
    try:
        jsonl = _format(getattr(config, "format", None)).jsonl
        data_files = {
            split: _write_split(tmp / "data", split, items, jsonl)
            for split, items in rows.items()
            if items
        }
        prompt_ids = {row.get("prompt_id") for items in rows.values() for row in items} - {None}
        sources = (
            store.scan("prompts")
            .filter(pl.col("prompt_id").is_in(list(prompt_ids)))
            .select("source")
            .unique()
            .collect()
        )
        manifest = {
            "name": config.name,
            "kind": kind,
            "prefsmith_version": __version__,
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "store": str(store.root.resolve()),
            "store_version": str(store.version()),
            "config": config.model_dump(),
            "rows": summary["rows"],
            "splits": summary["splits"],
            "data_files": data_files,
            "drops": summary.get("drops", {}),
            "length_bias": summary.get("length_bias"),
            "labelers": label_sources,
            "prompt_sources": sorted(sources["source"].to_list()),
            **(manifest_extra or {}),
        }
        images, agreement = _plots(store, label_sources, tmp / "images")
        manifest["agreement"] = agreement
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        (tmp / "README.md").write_text(_card(manifest, images, agreement, data_files))
        old = root / f".old-{config.name}-{uuid.uuid4().hex[:8]}"
        if final.exists():
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
