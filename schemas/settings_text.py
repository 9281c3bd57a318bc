"""Settings given as text: YAML files (run configs, `--options`, `--config`) read with YAML
1.2's core scalars, and `KEY=VALUE` flags (`--option`, `--set`) read by the type of the
setting they set, so a string setting keeps `on`, `017` or `12:30` as written."""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic.fields import FieldInfo

from prefsmith.schemas.errors import UserError

# YAML scalars as YAML 1.2's core schema reads them, not 1.1's: only true/false are
# booleans, so `structured: on` is the word "on" (a bool field still takes it: pydantic reads
# "on"/"off"/"yes"/"no"); no octal (017), hex, sexagesimal (12:30 -> 750) or dates. A number
# with a leading zero stays text, as an int field still reads it; 1_000 is still 1000.
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9]+|[0-9][0-9_]*(?=[eE]))(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class CoreLoader(yaml.SafeLoader):
    """`yaml.SafeLoader` with the YAML 1.2 core schema's plain scalars (see above)."""


CoreLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag == "tag:yaml.org,2002:merge"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _tag, _regexp, _first in (
    ("bool", _BOOL, "tTfF"),
    ("int", _INT, "-+0123456789"),
    ("float", _FLOAT, "-+0123456789."),
    ("null", _NULL, ["~", "n", "N", ""]),
):
    CoreLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", _regexp, list(_first))


def yaml_text(text: str) -> Any:
    """A YAML document read by `CoreLoader`."""
    return yaml.load(text, Loader=CoreLoader)  # a SafeLoader: no Python objects


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file not found: {path}")
    try:
        data = yaml_text(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{path}: invalid YAML: {error}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping of settings at the top level")
    return data


def _untyped_value(text: str) -> Any:
    """A `KEY=VALUE` value whose key has no declared type (trl settings): null, true/false,
    a decimal int or a float as YAML 1.2 reads them, `[a, b]` / `{a: 1}` as YAML, else the
    text as written (never a date, an octal or a sexagesimal number)."""
    stripped = text.strip()
    if any(p.match(stripped) for p in (_NULL, _BOOL, _INT, _FLOAT)) or (
        stripped[:1] + stripped[-1:] in ("[]", "{}", '""', "''")
    ):
        try:
            return yaml_text(stripped)
        except yaml.YAMLError:
            pass
    return text


def _union_args(annotation: Any) -> tuple[Any, ...]:
    """The members of a union (a non-union: itself), `Annotated` unwrapped."""
    if typing.get_origin(annotation) is Annotated:
        return _union_args(typing.get_args(annotation)[0])
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return tuple(a for arg in typing.get_args(annotation) for a in _union_args(arg))
    return (annotation,)


def _takes_text(annotation: Any) -> bool:
    """Whether a field holds text: a str, or a Literal with a string among its values."""
    for arg in _union_args(annotation):
        if arg is str or (isinstance(arg, type) and issubclass(arg, str)):
            return True
        if typing.get_origin(arg) is Literal and any(
            isinstance(v, str) for v in typing.get_args(arg)
        ):
            return True
    return False


def _is_structured(annotation: Any) -> bool:
    """Whether a field holds a list, a mapping or a model (text may need parsing)."""
    for arg in _union_args(annotation):
        origin = typing.get_origin(arg)
        if origin is Literal:
            continue
        if origin is not None or arg in (list, dict, set, tuple, frozenset):
            return True
        if isinstance(arg, type) and (issubclass(arg, BaseModel) or dataclasses.is_dataclass(arg)):
            return True
    return False


def typed_value(text: str, field: FieldInfo) -> Any:
    """A `KEY=VALUE` value read by the type of the field it sets: a string field gets the
    text as written (`on`, `017`, `12:30`, `null` included); numbers, booleans and
    comma lists are read by pydantic (lax: `yes`/`on` are true for a bool); a list,
    mapping or model field also takes YAML (`[a, b]`, `{a: 1}`). What the field refuses
    is passed on as written, for its model to name the problem."""
    annotation = field.annotation
    if annotation is Any or annotation is None:
        return _untyped_value(text)
    takes_none = type(None) in _union_args(annotation)
    if text == "" and (takes_none or not _takes_text(annotation)):
        return None  # `KEY=` unsets an optional setting (as before)
    structured = _is_structured(annotation)
    if structured and text.strip()[:1] + text.strip()[-1:] in ("[]", "{}"):
        try:
            return yaml_text(text)
        except yaml.YAMLError:
            pass
    target = Annotated[(annotation, *field.metadata)] if field.metadata else annotation
    try:
        return TypeAdapter(target).validate_python(text)
    except ValidationError:
        pass
    if takes_none and _NULL.match(text.strip()):
        return None
    if structured:
        try:
            return yaml_text(text)
        except yaml.YAMLError:
            pass
    return text


def parse_assignments(
    items: list[str] | None, flag: str = "--set", model: type[BaseModel] | None = None
) -> dict[str, Any]:
    """`KEY=VALUE` flags (`--set`, `--option`). With `model`, each value is read by the type
    of the field it sets (`typed_value`: a string field keeps `on` or `017` as written);
    a key the model lacks, or any key without a model (trl settings), is read by
    `_untyped_value` (`3` a number, `true` a boolean, `[a, b]` a list, else the text).
    An unknown key is left for the model's validation to name."""
    fields = model.model_fields if model is not None else {}
    settings = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UserError(f"{flag} {item!r}: expected KEY=VALUE")
        key = key.strip()
        if key in fields:
            settings[key] = typed_value(value, fields[key])
        else:
            settings[key] = _untyped_value(value) if value else None
    return settings


def read_settings_file(path: str | None, flag: str = "--config") -> dict[str, Any]:
    """The mapping of settings in a YAML file given to `flag` (none without a file)."""
    if path is None:
        return {}
    if not Path(path).is_file():
        raise UserError(f"{flag} {path}: no such file")
    try:
        loaded = yaml_text(Path(path).read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise UserError(f"{flag} {path}: invalid YAML: {error}") from None
    if not isinstance(loaded, dict):
        raise UserError(f"{flag} {path}: expected a mapping of settings")
    return loaded
