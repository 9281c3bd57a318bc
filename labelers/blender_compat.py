"""llm-blender 0.0.2 on transformers 5: the two shims it needs, in one place.

llm-blender imports `transformers.utils.hub.TRANSFORMERS_CACHE` (removed in
transformers 5) and calls the removed tokenizer method `batch_encode_plus`.
`missing_shims()` says which are still needed; a test fails when an upgrade
makes one unnecessary, so the shim can go.
"""

from __future__ import annotations

from typing import Any

from prefsmith.schemas.errors import UserError


def missing_shims() -> list[str]:
    import transformers.utils.hub as hub
    from transformers import PreTrainedTokenizerBase

    missing = []
    if not hasattr(hub, "TRANSFORMERS_CACHE"):
        missing.append("TRANSFORMERS_CACHE")
    if not hasattr(PreTrainedTokenizerBase, "batch_encode_plus"):
        missing.append("batch_encode_plus")
    return missing


def _batch_encode_plus(self: Any, batch_text_or_text_pairs: Any, **kwargs: Any) -> Any:
    return self(batch_text_or_text_pairs, **kwargs)


def import_llm_blender() -> Any:
    """`llm_blender`, importable and usable on transformers 5."""
    try:
        import transformers.utils.hub as hub
        from huggingface_hub import constants
        from transformers import PreTrainedTokenizerBase
    except ImportError:
        raise UserError("PairRM needs transformers: pip install 'prefsmith[pairrm]'") from None
    missing = missing_shims()
    if "TRANSFORMERS_CACHE" in missing:
        hub.TRANSFORMERS_CACHE = constants.HF_HUB_CACHE
    if "batch_encode_plus" in missing:
        PreTrainedTokenizerBase.batch_encode_plus = _batch_encode_plus
    try:
        import llm_blender
    except ImportError:
        raise UserError("PairRM needs llm-blender: pip install 'prefsmith[pairrm]'") from None
    return llm_blender
