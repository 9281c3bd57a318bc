"""Weights run in this process: torch, device and dtype, and what identifies a model
(its fingerprint, its `name@hash`)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import TRAINING_PAIRS


def import_torch() -> Any:
    try:
        import torch
    except ImportError:
        raise UserError(
            "this labeler needs torch and transformers: pip install 'prefsmith[models]'"
        ) from None
    return torch


def resolve_device(device: str) -> str:
    torch = import_torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError(
            "--device cuda: no CUDA device is available here (use --device cpu or auto)"
        )
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    torch = import_torch()
    if dtype == "auto":
        return (
            torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        )
    return getattr(torch, dtype)


def model_identity(model: str) -> dict[str, Any]:
    """What identifies a model's weights: Hub id (and revision), or a content hash of a folder
    (or of one weights file, a GGUF).

    A local folder is hashed from its config and the head and tail of each weights
    file (with the file sizes): cheap, and it changes whenever the weights do.
    """
    path = Path(model).expanduser()
    if not path.exists():
        if model.startswith(("/", "./", "../", "~")) or model.count("/") > 1:
            raise UserError(f"--model {model}: no such folder (and not a Hub id like org/name)")
        return {"model": model}
    files = (
        [path]
        if path.is_file()  # one weights file (a GGUF)
        else sorted(
            p for p in path.iterdir() if p.suffix in (".safetensors", ".bin", ".gguf", ".json")
        )
    )
    if not files:
        raise UserError(
            f"--model {model}: no model files (config.json, *.safetensors) in that folder"
        )
    digest = hashlib.blake2b(digest_size=16)
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.name}:{size}".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(1 << 20))
            if size > 2 << 20:
                handle.seek(-(1 << 20), 2)
                digest.update(handle.read())
    identity: dict[str, Any] = {"model": path.name, "weights": digest.hexdigest()}
    if (trained := trained_pairs(model)) is not None:  # trained by prefsmith: on these pairs
        identity["trained_pairs"] = hashlib.blake2b(
            trained.read_bytes(), digest_size=16
        ).hexdigest()
    return identity


def trained_pairs(model: str | None) -> Path | None:
    """The pairs a model folder trained by prefsmith was trained on (their ids), if any."""
    path = Path(model).expanduser() / TRAINING_PAIRS if model else None
    return path.resolve() if path is not None and path.is_file() else None


def read_config(model: str) -> dict[str, Any]:
    config = Path(model) / "config.json"
    return json.loads(config.read_text()) if config.is_file() else {}


def has_chat_template(model: str) -> bool:
    """Whether a model folder's tokenizer has a chat template, read from its files (so a
    labeler's fingerprint is the same before and after it loads the tokenizer)."""
    folder = Path(model)
    if (folder / "chat_template.jinja").is_file() or (folder / "chat_template.json").is_file():
        return True
    config = folder / "tokenizer_config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("chat_template"))


def check_weights(path: str | None) -> None:
    """A checkpoint folder (with config.json) or a .gguf file; UserError otherwise."""
    if path is None:
        return
    where = Path(path).expanduser()
    if where.is_dir() and (where / "config.json").is_file():
        return
    if where.is_file() and where.suffix == ".gguf":
        return
    raise UserError(
        f"--endpoint transformers:{path}: expected a checkpoint folder with config.json "
        "or a .gguf file (transformers:bundled for the bundled SmolLM2)"
    )


def weights_id(path: str | None) -> str:
    """`name@hash` of the weights (the bundled model: its GGUF file)."""
    if path is None:
        from prefsmith.bundled import smollm2_gguf

        path = str(smollm2_gguf())
    identity = model_identity(str(Path(path).expanduser()))
    name = identity["model"].removesuffix(".gguf")
    return f"{name}@{identity['weights'][:16]}"
