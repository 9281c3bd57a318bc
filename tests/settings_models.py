"""Walking settings models: shared by the parity and option-type tests."""

from __future__ import annotations

import typing

from pydantic import BaseModel


def models_in(model: type[BaseModel], seen: set | None = None) -> set:
    """Every pydantic model reachable from `model`'s fields (nested, in unions and lists)."""
    seen = set() if seen is None else seen
    for field in model.model_fields.values():
        for arg in (field.annotation, *typing.get_args(field.annotation)):
            for inner in (arg, *typing.get_args(arg)):
                if isinstance(inner, type) and issubclass(inner, BaseModel) and inner not in seen:
                    seen.add(inner)
                    models_in(inner, seen)
    return seen
