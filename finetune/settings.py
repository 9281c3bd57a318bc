"""Trainer settings: trl's own config dataclasses, filled from our defaults, a YAML file
and command-line flags (later wins), with the device chosen for the machine.

    prefsmith train dpo --dataset hh --output out/dpo --config dpo.yaml --set beta=0.2

Unknown keys are errors naming the key and the trainer. On a GPU, bf16 is used where
supported; on CPU, `use_cpu`. Checkpoints go to the output folder; `--resume` picks the
last one up.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from prefsmith.schemas.errors import UserError

COMMON_DEFAULTS: dict[str, Any] = {
    "num_train_epochs": 1,
    "logging_steps": 5,
    "save_strategy": "steps",
    "save_steps": 100,
    "save_total_limit": 2,
    "report_to": [],
    "seed": 0,
    "dataloader_num_workers": 0,
}


def device_settings() -> dict[str, Any]:
    """bf16 on a GPU that supports it, fp16 on an older one, fp32 on CPU (trl defaults to
    bf16, which most CPUs only emulate: measured 25x slower per step here). Gradient
    checkpointing (trl's default) saves GPU memory at ~30% more compute: off on CPU."""
    import torch

    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return {"bf16": bf16, "fp16": not bf16, "activation_checkpointing": True}  # trl's default
    return {"use_cpu": True, "bf16": False, "fp16": False, "activation_checkpointing": False}


# transformers 5 renamed these; a value under the old name would be ignored once the new
# one is set (above), so a user's `--set gradient_checkpointing=true` is read as the new.
RENAMED = {
    "gradient_checkpointing": "activation_checkpointing",
    "gradient_checkpointing_kwargs": "activation_checkpointing_kwargs",
}


def trainer_config(
    config_class: type,
    output: Path,
    defaults: dict[str, Any],
    overrides: dict[str, Any],
) -> Any:
    """An instance of trl's `config_class` (RewardConfig, DPOConfig, SFTConfig)."""
    known = {field.name for field in dataclasses.fields(config_class)}
    overrides, defaults = _renamed(overrides, known), _renamed(defaults, known)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise UserError(
            f"{config_class.__name__} has no setting {unknown[0]!r} "
            "(see the trl documentation of that class)"
        )
    overrides = _bool_words(config_class, overrides)
    values = {**COMMON_DEFAULTS, **device_settings(), **defaults, **overrides}
    values["output_dir"] = str(output)
    try:
        return config_class(**{k: v for k, v in values.items() if k in known})
    except (TypeError, ValueError) as error:
        raise UserError(f"{config_class.__name__}: {error}") from None


def _renamed(settings: dict[str, Any], known: set[str]) -> dict[str, Any]:
    """Settings under transformers 5's names, where the config class has them."""
    return {RENAMED[k] if RENAMED.get(k) in known else k: v for k, v in settings.items()}


WORDS = {"yes": True, "on": True, "true": True, "no": False, "off": False, "false": False}


def _bool_words(config_class: type, overrides: dict[str, Any]) -> dict[str, Any]:
    """`bf16: no` in a YAML 1.2 file is the word "no": a bool setting of trl reads it as
    False (trl would keep the string, which is true)."""
    flags = {f.name for f in dataclasses.fields(config_class) if _is_flag(f.type)}
    return {
        key: WORDS[value.lower()]
        if isinstance(value, str) and value.lower() in WORDS and key in flags
        else value
        for key, value in overrides.items()
    }


def _is_flag(annotation: Any) -> bool:
    """`bool` or `bool | None` (trl's configs keep their annotations as types)."""
    return bool in (annotation, *typing.get_args(annotation))


def last_checkpoint(output: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output)) if output.is_dir() else None
