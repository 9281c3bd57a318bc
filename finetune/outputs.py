"""What a training run leaves in its output folder, next to the model:

OUTPUT/
  model.safetensors, config.json, tokenizer files   (loadable with from_pretrained)
  training_args.json    trl's full config
  prefsmith-train.json  command, dataset, base model, settings, metrics
  training-pairs.parquet  the ids of the pairs trained on (`eval labelers` leaves them out)
  metrics.json          the final metrics alone
  README.md             a model card
  checkpoint-*/         kept while training, for --resume
"""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader

from prefsmith import __version__
from prefsmith.schemas import locations

TEMPLATES = locations.TEMPLATES


def changed_settings(args: Any) -> dict[str, Any]:
    """The settings of a trl config that differ from the class's field defaults."""
    changed = {}
    for field in dataclasses.fields(args):
        value = getattr(args, field.name, None)
        if field.default is not dataclasses.MISSING:
            default = field.default
        elif field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        else:
            default = None
        if field.name != "output_dir" and value != default:
            changed[field.name] = (
                value if isinstance(value, int | float | str | bool) else str(value)
            )
    return changed


def write_training_pairs(output: Path, rows: Any) -> int:
    """The ids of the pairs of the train split, beside the model; how many (0: rows without
    ids, nothing written)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = ("prompt_id", "chosen_id", "rejected_id")
    if rows is None or not all(c in rows.column_names for c in columns):
        return 0
    table = pa.table({c: pa.array(rows[c], pa.string()) for c in columns})
    pq.write_table(table, output / locations.TRAINING_PAIRS)
    return table.num_rows


def write_run_files(
    output: Path,
    *,
    command: str,
    trainer: str,
    base: str,
    dataset: dict[str, Any],
    args: Any,
    metrics: dict[str, Any],
    usage: str,
    description: str,
    tags: list[str],
) -> dict[str, Any]:
    """Write the run's JSON records and its model card; returns the record."""
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record = {
        "command": command,
        "trainer": trainer,
        "base": base,
        "dataset": dataset,
        "prefsmith_version": __version__,
        "created_at": created,
        "settings": changed_settings(args),
        "metrics": metrics,
    }
    (output / "training_args.json").write_text(args.to_json_string())
    (output / "prefsmith-train.json").write_text(json.dumps(record, indent=2, default=str))
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2))
    metadata = yaml.safe_dump(
        {"library_name": "transformers", "tags": ["prefsmith", "trl", *tags]}, sort_keys=False
    ).strip()
    environment = Environment(loader=FileSystemLoader(TEMPLATES), keep_trailing_newline=True)
    card = environment.get_template("model_card.md.j2").render(
        metadata=metadata,
        name=output.name,
        description=description,
        version=__version__,
        created_at=created,
        trainer=trainer,
        base=base,
        dataset=dataset["name"],
        splits=dataset["splits"],
        metrics=metrics,
        usage=usage,
        config_class=type(args).__name__,
        settings=record["settings"],
    )
    (output / "README.md").write_text(card)
    return record
