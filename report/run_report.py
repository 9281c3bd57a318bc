"""The run report: what a pipeline run did and what its data look like, as Markdown and
as one self-contained HTML page (plots inlined) that can be mailed or attached to a PR.

Sections: stages (a summary table), the store, score distributions, the agreement
matrix of every two labelers, datasets (with example pairs), training and evaluation
(reward matching plots), and the self-rewarding iterations when the run had them.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader

from prefsmith.report.agreement import agreement_report
from prefsmith.report.html import markdown_to_html
from prefsmith.schemas import locations
from prefsmith.schemas.errors import UserError
from prefsmith.store import Store, labels_of, load_manifest

TEMPLATES = locations.TEMPLATES / "report"


def score_values(store: Store) -> dict[str, list[float]]:
    """Each score labeler's values (its newest fingerprint), failed labels left out."""
    values: dict[str, list[float]] = {}
    for name in store.summary()["labels_by_labeler"]:
        try:
            _, _, labels, _ = labels_of(store, name)
        except UserError:
            continue
        scores = [label["scores"][0] for label in labels if label["kind"] == "score"]
        scores = [s for s in scores if s is not None and math.isfinite(s)]
        if scores:
            values[name] = scores
    return values


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_scores(values: dict[str, list[float]], path: Path) -> None:
    plt = _pyplot()
    columns = min(3, len(values))
    rows = math.ceil(len(values) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for axis, (name, scores) in zip(axes.flat, values.items(), strict=False):
        axis.hist(scores, bins=20, color="#4C72B0")
        axis.set_title(f"{name} (n={len(scores)})", fontsize=10)
        axis.set_xlabel("score")
    for axis in list(axes.flat)[len(values) :]:
        axis.axis("off")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_agreement(agreement: dict[str, Any], path: Path) -> None:
    plt = _pyplot()
    names = agreement["labelers"]
    size = len(names)
    grid = [[math.nan] * size for _ in range(size)]
    counts = [[0] * size for _ in range(size)]
    for i, a in enumerate(names):
        grid[i][i] = 1.0
        for j, b in enumerate(names):
            cell = agreement["pairs"].get(f"{a} vs {b}") or agreement["pairs"].get(f"{b} vs {a}")
            if cell and cell["agreement"] is not None:
                grid[i][j], counts[i][j] = cell["agreement"], cell["n"]
    figure, axis = plt.subplots(figsize=(1.2 * size + 3, 1.0 * size + 2))
    image = axis.imshow(grid, vmin=0, vmax=1, cmap="RdYlGn")
    axis.set_xticks(range(size), names, rotation=35, ha="right", fontsize=8)
    axis.set_yticks(range(size), names, fontsize=8)
    for i in range(size):
        for j in range(size):
            if i != j and not math.isnan(grid[i][j]):
                axis.text(j, i, f"{grid[i][j]:.2f}\nn={counts[i][j]}", ha="center", fontsize=7)
    figure.colorbar(image, ax=axis, label="agreement on shared pairs")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_self_reward(iterations: list[dict[str, Any]], path: Path) -> None:
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3))
    steps = [it["iteration"] for it in iterations]
    axis.plot(steps, [it.get("mean_score") for it in iterations], marker="o")
    axis.set_xticks(steps)
    axis.set_xlabel("iteration")
    axis.set_ylabel("mean self-judged score (1-5)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def _short(text: str, limit: int = 280) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def dataset_rows(store: Store, names: list[str], examples: int) -> list[dict[str, Any]]:
    """Manifest facts of each built dataset, with a few example rows."""
    import polars as pl

    rows = []
    for name in names:
        try:
            manifest = load_manifest(store, name)
        except UserError:
            continue
        folder = store.root / "datasets" / name
        shown = []
        train = manifest["data_files"].get("train") or next(iter(manifest["data_files"].values()))
        if examples and train:
            frame = pl.read_parquet(folder / train).head(examples)
            for row in frame.to_dicts():
                shown.append({k: _short(_text(v)) for k, v in row.items() if k in EXAMPLE_KEYS})
        rows.append({"name": name, "manifest": manifest, "examples": shown})
    return rows


EXAMPLE_KEYS = ("prompt", "chosen", "rejected", "completion")


def _text(value: Any) -> str:
    """A chat column (list of messages) as `role: content` lines, or the text itself."""
    if isinstance(value, list) and len(value) == 1:
        return str(value[0].get("content"))
    if isinstance(value, list):
        return " / ".join(f"{m.get('role')}: {m.get('content')}" for m in value)
    return str(value)


def _evaluations(stages: list[dict[str, Any]], output: Path) -> list[dict[str, Any]]:
    """Evaluation stages, with their plots copied next to the report."""
    found = []
    for stage in stages:
        if not str(stage.get("command", "")).startswith("eval") or "output" not in stage:
            continue
        folder = Path(stage["output"])
        plots = []
        for path in sorted(folder.glob("*.png")):
            target = f"{folder.name}-{path.name}"
            shutil.copyfile(path, output / target)
            plots.append(target)
        found.append({**stage, "plots": plots})
    return found


def write_run_report(run: Any, summary: dict[str, Any], output: Path) -> Path:
    """Write report.md, report.html and the plots into `output`; returns the folder."""
    output.mkdir(parents=True, exist_ok=True)
    store = Store(run.store)
    stages = summary["stages"]
    scores = score_values(store)
    if scores:
        plot_scores(scores, output / "scores.png")
    agreement = agreement_report(store)
    if agreement["pairs"]:
        plot_agreement(agreement, output / "agreement.png")
    self_reward = next((s for s in stages if s.get("command") == "self-reward"), None)
    if self_reward and self_reward.get("iterations"):
        plot_self_reward(self_reward["iterations"], output / "self_reward.png")
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    markdown = environment.get_template("run_report.md.j2").render(
        run=run,
        summary=summary,
        stages=stages,
        scores={
            name: {
                "n": len(v),
                "mean": sum(v) / len(v),
                "min": min(v),
                "max": max(v),
            }
            for name, v in scores.items()
        },
        agreement=agreement,
        datasets=dataset_rows(store, run.datasets(), run.report.examples),
        trained=[s for s in stages if str(s.get("command", "")).startswith("train")],
        trust=[s for s in stages if s.get("command") == "eval labelers"],
        panels=[s for s in stages if s.get("panel_weights")],
        evaluations=_evaluations(stages, output),
        self_reward=self_reward,
        describe=describe_stage,
        cell=_cell,
        md_row=lambda values: "| " + " | ".join(_cell(v) for v in values) + " |",
    )
    markdown = tidy_markdown(markdown)
    (output / "report.md").write_text(markdown, encoding="utf-8")
    (output / "report.html").write_text(markdown_to_html(markdown, output), encoding="utf-8")
    (output / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return output


def tidy_markdown(text: str) -> str:
    """One blank line around headings, tables and paragraphs, never two."""
    lines: list[str] = []
    for line in text.splitlines():
        previous = lines[-1] if lines else ""
        starts_block = line.startswith("#") or (line.startswith("|") != previous.startswith("|"))
        if line and previous and (starts_block or previous.startswith("#")):
            lines.append("")
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip() + "\n"


def _cell(value: Any) -> str:
    """A table cell: numbers rounded, None as a dash, pipes escaped."""
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def describe_stage(stage: dict[str, Any]) -> str:
    """One line of what a stage did, from the keys its summary has."""
    name = stage.get("labeler") or stage.get("name") or stage.get("dataset") or ""
    if stage.get("output") and str(stage.get("command", "")).startswith(("train", "eval")):
        name = Path(stage["output"]).name
    if stage.get("skipped"):
        return f"{name}: up to date" if name else "up to date"
    parts = []
    if isinstance(stage.get("added"), dict):
        parts.append(", ".join(f"{n} {table}" for table, n in stage["added"].items() if n))
    keys = (
        ("rows", "rows"),
        ("generated", "generated"),
        ("labeled", "labeled"),
        ("cached", "already there"),
        ("ties", "ties"),
        ("inconsistent", "inconsistent"),
        ("errors", "errors"),
        ("cost_usd", "cost $"),
        ("batch_pending", "waiting in batches"),
        ("stopped", "stopped by the"),
        ("pushed", "tasks pushed"),
        ("train_loss", "train loss"),
        ("test_accuracy", "held-out accuracy"),
        ("test_rewards_accuracies", "test reward accuracy"),
    )
    parts += [
        f"{label}{'' if label.endswith('$') else ' '}{_cell(stage[k])}"
        for k, label in keys
        if stage.get(k) is not None and not (k == "cost_usd" and stage[k] == 0)
    ]
    for dimension, values in (stage.get("dimensions") or {}).items():
        parts.append(f"{dimension} reward matching: Pearson {_cell(values.get('pearson'))}")
    if stage.get("command") == "eval labelers":
        scored = [(f["accuracy"], n) for n, f in stage["labelers"].items() if f.get("accuracy")]
        best = max(scored, default=None)
        parts.append(f"against {stage['gold']} ({stage['gold_pairs']} pairs)")
        if best:
            parts.append(f"best {best[1]} accuracy {_cell(best[0])}")
    if stage.get("command") == "self-reward":
        scores = [_cell(it.get("mean_score")) for it in stage.get("iterations", [])]
        parts.append(f"mean self-judged score by iteration {' → '.join(scores)}")
    return (f"{name}: " if name else "") + (", ".join(p for p in parts if p) or "done")
