"""CLI options derived from a stage's pydantic settings model, so each setting is declared
once: its field. The flag is the field's name with dashes (`min_margin` -> `--min-margin`),
the help is the field's description, and the values go back through the model, which names
an unknown key or a bad value in one line.

Types map to options the way a user types them: numbers and strings as they are, booleans
as `--x/--no-x`, lists as a repeatable flag, mappings as `a=x,b=y` (`--splits
train=0.9,test=0.1`). What a flag can't carry (free-form trainer settings) goes through
`--set key=value` or `--options FILE` (YAML), validated by the same model.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from prefsmith.cli.common import parse_float, parse_pairs
from prefsmith.schemas.errors import UserError

_SCALARS = (str, int, float)


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def option_kind(annotation: Any) -> str | None:
    """How a field travels on the command line: scalar, bool, literal, list, mapping; None
    for what a flag can't carry (it goes through `--set` / `--options`)."""
    annotation = _unwrap_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation is bool:
        return "bool"
    if annotation in _SCALARS:
        return "scalar"
    if origin is Literal:
        return "literal"
    if origin is list and typing.get_args(annotation) in ((str,),):
        return "list"
    if origin is dict and typing.get_args(annotation)[:1] == (str,):
        value = typing.get_args(annotation)[1]
        return "mapping" if value in (str, float) else None
    return None


def flag_of(name: str, flags: Mapping[str, str] | None = None) -> str:
    """The flag of a field: `min_margin` -> `--min-margin`, unless `flags` renames it."""
    return (flags or {}).get(name) or "--" + name.replace("_", "-")


def _aliases(field: FieldInfo) -> list[str]:
    extra = field.json_schema_extra
    return list(extra.get("flags", [])) if isinstance(extra, dict) else []


def _help(name: str, field: FieldInfo, annotation: Any) -> str:
    text = field.description or name.replace("_", " ")
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) is Literal:
        text += " (" + ", ".join(str(a) for a in typing.get_args(annotation)) + ")"
    return text


def option_parameters(
    model: type[BaseModel],
    *,
    skip: Iterable[str] = (),
    flags: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    arguments: Iterable[str] = (),
) -> list[inspect.Parameter]:
    """Typer parameters for the fields of `model` that a flag can carry. A field in
    `arguments` is a positional argument; `defaults` overrides the model's defaults on the
    command line only (a required field given a default there becomes optional)."""
    skip, arguments, defaults = set(skip), set(arguments), dict(defaults or {})
    parameters = []
    for name, field in model.model_fields.items():
        kind = option_kind(field.annotation)
        if name in skip or kind is None:
            continue
        annotation = _unwrap_optional(field.annotation)
        python_type: Any = {"scalar": annotation, "bool": bool, "literal": str}.get(kind)
        if kind == "list":
            python_type = list[str] | None
        elif kind == "mapping":
            python_type = str | None
        elif field.annotation is not annotation or field.default is None:
            python_type = python_type | None
        if name in defaults:
            default = defaults[name]
        elif field.is_required():
            default = inspect.Parameter.empty
        else:
            default = (
                None
                if kind in ("list", "mapping")
                else field.get_default(call_default_factory=True)
            )
        text = _help(name, field, field.annotation)
        if name in arguments:
            info: Any = typer.Argument(help=text)
        elif kind == "bool":
            flag = flag_of(name, flags)
            extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
            negative = extra.get("negative") or f"--no-{flag[2:]}"
            info = typer.Option(f"{flag}/{negative}", help=text)
        else:
            info = typer.Option(flag_of(name, flags), *_aliases(field), help=text)
        parameters.append(
            inspect.Parameter(
                name,
                inspect.Parameter.KEYWORD_ONLY,
                default=default,
                annotation=Annotated[python_type, info],
            )
        )
    return parameters


def settings_from_options(
    model: type[BaseModel], values: Mapping[str, Any], flags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The model's settings from parsed option values: mappings split, lists and unset
    options dropped (the model's defaults apply)."""
    settings: dict[str, Any] = {}
    for name, value in values.items():
        field = model.model_fields.get(name)
        if field is None or value is None:
            continue
        if option_kind(field.annotation) == "mapping":
            flag = flag_of(name, flags)
            pairs = parse_pairs(value, flag)
            value_type = typing.get_args(_unwrap_optional(field.annotation))[1]
            value = {
                k: parse_float(v, flag) if value_type is float else v for k, v in pairs.items()
            }
        elif option_kind(field.annotation) == "list":
            value = [part.strip() for item in value for part in item.split(",") if part.strip()]
            if not value:
                continue
        settings[name] = value
    return settings


def validate_options(
    model: type[BaseModel], values: Mapping[str, Any], flags: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The settings the options give, checked by `model`; a mistake is one UserError that
    names the flag (`--splits: split fractions must ...`)."""
    from pydantic import ValidationError

    settings = settings_from_options(model, values, flags)
    try:
        model.model_validate(settings)
    except ValidationError as error:
        problems = []
        for problem in error.errors():
            key = str(problem["loc"][0]) if problem["loc"] else ""
            where = flag_of(key, flags) if key in model.model_fields else key
            message = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "missing":
                message = "missing (required)"
            problems.append(f"{where}: {message}" if where else message)
        raise UserError("; ".join(problems)) from None
    return settings


def with_parameters(
    parameters: list[inspect.Parameter],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give a `**kwargs` command the signature typer reads its options from."""

    def decorate(command: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(command)
        def wrapper(**kwargs: Any) -> Any:
            return command(**kwargs)

        ordered = sorted(parameters, key=lambda p: p.default is not inspect.Parameter.empty)
        wrapper.__signature__ = inspect.Signature(ordered)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {}
        return wrapper

    return decorate
