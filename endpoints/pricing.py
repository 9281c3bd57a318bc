"""What paid requests cost: a pricing table (dollars per million input and output tokens, and
the Batch API's discount) and the cost of stored usage. A model the table does not list has an
unknown cost (None), never a guessed one; a local model costs nothing."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from prefsmith.schemas import locations
from prefsmith.schemas.config import describe_validation_error
from prefsmith.schemas.errors import UserError

DEFAULT_PRICING = locations.TEMPLATES / "pricing.yaml"


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, description="Dollars per million input (prompt) tokens.")
    output: float = Field(ge=0, description="Dollars per million output tokens.")
    batch_discount: float = Field(default=1.0, gt=0, le=1, description="Batch price share.")


def load_pricing(path: str | Path | None = None) -> dict[str, Price]:
    """The pricing table: the bundled one, or a YAML file in the same layout."""
    path = Path(path) if path else DEFAULT_PRICING
    if not path.is_file():
        raise UserError(f"pricing {path}: no such file")
    try:
        data = yaml.safe_load(path.read_text()) or {}
        return {str(model): Price.model_validate(price) for model, price in data.items()}
    except yaml.YAMLError as error:
        raise UserError(f"pricing {path}: invalid YAML: {error}") from None
    except (ValidationError, AttributeError) as error:
        detail = describe_validation_error(error) if isinstance(error, ValidationError) else ""
        raise UserError(f"pricing {path}: expected MODEL: {{input, output}} ({detail})") from None


def price_of(table: Mapping[str, Price], model: str | None) -> Price | None:
    """The model's price: listed as is, or under the longest listed name it starts with."""
    if not model:
        return None
    if model in table:
        return table[model]
    prefixes = [name for name in table if model.startswith(name + "-")]
    return table[max(prefixes, key=len)] if prefixes else None


def usage_of(details: Any) -> list[dict[str, int]]:
    """The usage dicts a label's details keep (one, or one per order of a pairwise judge)."""
    usage = details.get("usage") if isinstance(details, Mapping) else None
    if isinstance(usage, Mapping):
        return [dict(usage)]
    return [dict(u) for u in usage or [] if isinstance(u, Mapping)]


def cost_usd(
    price: Price | None, usages: Iterable[Mapping[str, int]], batch: bool = False
) -> float | None:
    """Dollars for these usages at this price; None when the price is unknown."""
    if price is None:
        return None
    prompt = completion = 0
    for usage in usages:
        prompt += int(usage.get("prompt_tokens", 0) or 0)
        completion += int(usage.get("completion_tokens", 0) or 0)
    dollars = (prompt * price.input + completion * price.output) / 1_000_000
    return round(dollars * (price.batch_discount if batch else 1.0), 9)
