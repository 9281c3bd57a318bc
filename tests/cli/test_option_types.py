"""Issue 31: a `KEY=VALUE` from `--option` / `--set`, and a value in a run config or an
`--options` file, arrive as the type of the field they set. YAML 1.1 read `on`, `off`, `yes`
and `no` as booleans (and `017` as 15, `12:30` as 750, `2026-12-03` as a date): a string or
Literal field now gets the text as written, from every door and for every settings model and
labeler option. The README's and the docs' `--option` examples validate as written."""

from __future__ import annotations

import re
import shlex
import types
import typing
from pathlib import Path
from typing import Any, Literal

import pytest
from cli_runner import runner
from pydantic import BaseModel, TypeAdapter
from settings_models import models_in

from prefsmith.cli.app import app
from prefsmith.cli.label import labeler_options
from prefsmith.cli.train import trl_settings
from prefsmith.finetune.registry import EVALUATIONS, TRAINERS
from prefsmith.labelers import registry
from prefsmith.labelers.registry import REGISTRY, options_of
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.run_config import RunConfig, load_run_config
from prefsmith.schemas.settings_text import load_yaml, parse_assignments, read_settings_file

REPO = Path(__file__).resolve().parents[2]
# Text that YAML 1.1 turns into something else: bool, int (octal, hex, sexagesimal), date,
# None, list. On a string field each one must arrive as written.
YAML_11_WORDS = ["on", "off", "yes", "no", "On", "NO", "y", "017", "0x1F", "12:30", "2026-12-03"]
STRING_SAMPLES = [*YAML_11_WORDS, "null", "~", "[a]", "1_000", "plain text"]
# In a YAML file, `null` and `[a]` are YAML's own syntax; the rest is text.
YAML_STRING_SAMPLES = [s for s in STRING_SAMPLES if s not in ("null", "~", "[a]", "1_000")]


# Every settings model of a stage (the run config's sections and the trainers' and
# evaluations' options, as test_settings_parity walks them) and every labeler's Options.
REGISTERED = {entry.options for entry in (*TRAINERS.values(), *EVALUATIONS.values())}
SETTINGS_MODELS = sorted(
    {
        m
        for m in models_in(RunConfig, {RunConfig}) | REGISTERED
        if m.__module__.startswith("prefsmith.")
    },
    key=lambda m: f"{m.__module__}.{m.__qualname__}",
)
LABELER_MODELS = {key: labeler.Options for key, labeler in sorted(REGISTRY.items())}


def _members(annotation: Any) -> list[Any]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    if origin is typing.Annotated:
        return _members(typing.get_args(annotation)[0])
    return [annotation]


def text_values(annotation: Any) -> list[str] | None:
    """The values to try on a field holding text: a Literal's strings, samples for a str;
    None for a field that holds no text (a number, a bool, a list...)."""
    members = _members(annotation)
    literals = [v for m in members if typing.get_origin(m) is Literal for v in typing.get_args(m)]
    if any(m is str for m in members):
        return STRING_SAMPLES
    if literals and all(isinstance(v, str) for v in literals):
        return literals
    return None


def text_fields(model: type[BaseModel]) -> list[tuple[str, list[str]]]:
    found = []
    for name, field in model.model_fields.items():
        values = text_values(field.annotation)
        if values is not None:
            found.append((name, values))
    return found


def _id(model: type[BaseModel]) -> str:
    return model.__qualname__


def test_the_walk_finds_the_models_and_their_text_fields():
    names = {m.__name__ for m in SETTINGS_MODELS}
    assert {"GenerateConfig", "LabelConfig", "TrainConfig", "HHIngestConfig"} <= names
    assert {"RewardMatchingOptions", "DpoEvaluationOptions", "SelfRewardConfig"} <= names
    assert ("structured", ["auto", "on", "off"]) in text_fields(LABELER_MODELS["judge"])
    assert sum(len(text_fields(m)) for m in SETTINGS_MODELS) > 20


@pytest.mark.parametrize("model", SETTINGS_MODELS + list(LABELER_MODELS.values()), ids=_id)
def test_assignments_keep_text_as_written(model):
    """`--option KEY=VALUE` / `--set KEY=VALUE` (parse_assignments with the model the keys
    belong to): a string or Literal field gets the text, whatever YAML 1.1 would make of it."""
    for name, values in text_fields(model):
        for value in values:
            parsed = parse_assignments([f"{name}={value}"], "--option", model)
            assert parsed == {name: value}, (model.__name__, name, value)
            assert type(parsed[name]) is str


@pytest.mark.parametrize("model", SETTINGS_MODELS + list(LABELER_MODELS.values()), ids=_id)
def test_yaml_settings_keep_text_as_written(model, tmp_path):
    """A run config (load_yaml) and an `--options` / `--config` file (read_settings_file):
    an unquoted `on`, `yes`, `017`, `12:30` or `2026-12-03` on a text field is that text."""
    fields = text_fields(model)
    for i in range(max((len(v) for _, v in fields), default=0)):
        chosen = {}
        for name, values in fields:
            pool = values if values is not STRING_SAMPLES else YAML_STRING_SAMPLES
            chosen[name] = pool[i % len(pool)]
        file = tmp_path / "settings.yaml"
        file.write_text("".join(f"{name}: {value}\n" for name, value in chosen.items()))
        assert load_yaml(file) == chosen, model.__name__
        assert read_settings_file(str(file), "--options") == chosen, model.__name__
        for name, value in chosen.items():  # a Literal field takes the word as one of its own
            field = model.model_fields[name]
            if text_values(field.annotation) is not STRING_SAMPLES:
                assert TypeAdapter(field.annotation).validate_python(value) == value


@pytest.mark.parametrize("key", sorted(LABELER_MODELS))
def test_labeler_options_arrive_typed_from_every_door(key, tmp_path):
    """`--option`, `--options FILE` and a run config's `options:`: every Literal value of the
    labeler's Options validates, and reaches the model as the word written."""
    model = LABELER_MODELS[key]
    required = {n: "x" for n, f in model.model_fields.items() if f.is_required()}
    for name, values in text_fields(model):
        if values is STRING_SAMPLES:
            values = YAML_STRING_SAMPLES
        for value in values:
            given = labeler_options({}, [f"{name}={value}"], None, key)
            file = tmp_path / "options.yaml"
            file.write_text(f"{name}: {value}\n")
            from_file = labeler_options({}, None, str(file), key)
            config = tmp_path / "run.yaml"
            config.write_text(f"label:\n  - labeler: {key}\n    options:\n      {name}: {value}\n")
            from_run = load_run_config(config).label[0].options
            assert given[name] == from_file[name] == from_run[name] == value, (key, name)
            if typing.get_origin(model.model_fields[name].annotation) is Literal:
                validated = options_of(key, {**required, name: given[name]})
                assert getattr(validated, name) == value


def test_structured_on_in_a_run_config(tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "label:\n"
        "  - labeler: judge\n"
        "    options: {endpoint: local, structured: on, max_tokens: 64}\n"
        "  - labeler: critic\n"
        "    options:\n      structured: off\n      batch: no\n"
    )
    run = load_run_config(config)
    judge = options_of("judge", run.label[0].options)
    assert judge.structured == "on" and judge.max_tokens == 64
    critic = options_of("critic", run.label[1].options)
    assert critic.structured == "off" and critic.batch is False


def test_other_types_still_follow_their_field():
    judge = LABELER_MODELS["judge"]
    parsed = parse_assignments(
        ["max_tokens=64", "temperature=0.5", "batch=yes", "aspects=a,b", "model=",
         "requests_per_minute=null", "parse_retries=1_000"],
        "--option", judge,
    )  # fmt: skip
    assert parsed == {
        "max_tokens": 64,
        "temperature": 0.5,
        "batch": True,
        "aspects": ["a", "b"],
        "model": None,
        "requests_per_minute": None,
        "parse_retries": 1000,
    }
    assert parse_assignments(["aspects=[a, b]", "batch=off"], "--option", judge) == {
        "aspects": ["a", "b"],
        "batch": False,
    }
    panel = parse_assignments(["members=rm-hh,yes_no", "gold=[human:x]"], "--option",
                              LABELER_MODELS["panel"])  # fmt: skip
    assert panel == {"members": ["rm-hh", "yes_no"], "gold": ["human:x"]}
    with pytest.raises(UserError, match="expected KEY=VALUE"):
        parse_assignments(["structured"], "--option", judge)


def test_trl_settings_are_typed_like_yaml_but_never_dates_or_octal():
    """`prefsmith train --set` (trl's config fields, no prefsmith model): numbers, true/false,
    null and [lists] as YAML reads them; everything else the text as written."""
    settings = trl_settings(
        None,
        ["beta=0.3", "max_steps=10", "learning_rate=1e-5", "bf16=false", "loss_type=[ipo]",
         "eval_strategy=no", "save_strategy=on", "run_name=017", "hub_model_id=0x1F",
         "logging_dir=12:30", "output_dir=2026-12-03", "max_length=null", "report_to=none"],
    )  # fmt: skip
    assert settings == {
        "beta": 0.3,
        "max_steps": 10,
        "learning_rate": 1e-5,
        "bf16": False,
        "loss_type": ["ipo"],
        "eval_strategy": "no",
        "save_strategy": "on",
        "run_name": "017",
        "hub_model_id": "0x1F",
        "logging_dir": "12:30",
        "output_dir": "2026-12-03",
        "max_length": None,
        "report_to": "none",
    }


@pytest.fixture
def stop_at_validation(monkeypatch):
    """`prefsmith label` up to its labeler's options: build_labeler validates them with the
    registry's `options_of`, records them and stops (nothing is built or labeled)."""
    seen: list[tuple[str, dict[str, Any], Any]] = []

    def build_labeler(key: str, options: dict[str, Any]):
        validated = options_of(key, options)  # a mistake is its one-line error, as for real
        seen.append((key, dict(options), validated))
        raise UserError("options validated; stopping before the labeler is built")

    monkeypatch.setattr(registry, "build_labeler", build_labeler)
    return seen


def _label(store: Path, *args: str):
    store.mkdir(exist_ok=True)
    return runner.invoke(app, ["label", "--store", str(store), *args])


def test_the_issue_command_reaches_validation(stop_at_validation, tmp_path):
    result = _label(tmp_path / "s", "--labeler", "judge", "--endpoint", "local",
                    "--option", "structured=on", "--option", "max_tokens=64")  # fmt: skip
    assert "options validated" in result.stderr, result.output
    ((key, options, validated),) = stop_at_validation
    assert key == "judge" and options["structured"] == "on"
    assert validated.structured == "on" and validated.max_tokens == 64


def test_an_unknown_option_still_names_the_known_ones(stop_at_validation, tmp_path):
    result = _label(tmp_path / "s", "--labeler", "judge", "--option", "structurd=on")
    assert result.exit_code == 2
    assert "error: labeler judge: unknown key 'structurd'; judge's options: " in result.stderr
    assert "structured" in result.stderr and stop_at_validation == []


@pytest.mark.parametrize("key", sorted(LABELER_MODELS))
def test_every_text_option_through_the_cli(key, stop_at_validation, tmp_path):
    """The real `prefsmith label --option KEY=VALUE ...` for every text option of every
    labeler: the values reach the labeler as written (one run per round of values)."""
    model = LABELER_MODELS[key]
    fields = text_fields(model)
    required = [f"{n}=x" for n, f in model.model_fields.items() if f.is_required()]
    reached = 0
    for i in range(max(len(values) for _, values in fields)):
        chosen = {name: values[i % len(values)] for name, values in fields}
        args = [arg for name, value in chosen.items() for arg in ("--option", f"{name}={value}")]
        stop_at_validation.clear()
        filled = [arg for item in required for arg in ("--option", item)]
        result = _label(tmp_path / "s", "--labeler", key, *filled, *args)
        # build_labeler is reached unless the labeler's model refused a sample (a str field
        # with a validator); then what arrived is checked through the parse alone
        if stop_at_validation:
            arrived = stop_at_validation[0][1]
            assert {name: arrived[name] for name in chosen} == chosen
            reached += 1
        else:
            assert f"error: labeler {key}: " in result.stderr, result.output
        assert labeler_options({}, args[1::2], None, key) == chosen
    assert reached >= len(fields[0][1]) // 2, f"{key}: {reached} runs reached the labeler"


# --- the README's and the docs' examples ------------------------------------------------


def _label_commands() -> list[tuple[str, str]]:
    """Every `prefsmith label ... --option ...` command line in README.md and docs/*.md
    (continuation lines joined), with where it is."""
    found = []
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        lines = path.read_text(encoding="utf-8").splitlines()
        i = 0
        while i < len(lines):
            start, line = i, lines[i].strip()
            while line.endswith("\\") and i + 1 < len(lines):
                i += 1
                line = line[:-1] + " " + lines[i].strip()
            i += 1
            synopsis = "[--" in line  # `[--option KEY=VALUE ...]`: the usage, not an example
            if line.startswith("prefsmith label ") and "--option" in line and not synopsis:
                found.append((f"{path.relative_to(REPO)}:{start + 1}", line))
    return found


LABEL_COMMANDS = _label_commands()


def test_the_docs_have_option_examples():
    where = {w.split(":")[0] for w, _ in LABEL_COMMANDS}
    assert {"README.md", "docs/labelers.md", "docs/annotation.md"} <= where
    assert any("structured=on" in line for _, line in LABEL_COMMANDS)


@pytest.mark.parametrize(("where", "line"), LABEL_COMMANDS, ids=[w for w, _ in LABEL_COMMANDS])
def test_doc_option_examples_validate_as_written(where, line, stop_at_validation, tmp_path):
    """The command as written, up to its labeler's options (a stand-in store; `...` in the
    docs is left out): every `--option KEY=VALUE` is a known key and a valid value."""
    args = shlex.split(re.sub(r"\s#.*$", "", line))[2:]
    args = [a for a in args if a != "..."]
    if "--store" in args:
        at = args.index("--store")
        del args[at : at + 2]
    result = _label(tmp_path / "store", *args)
    assert "options validated" in result.stderr, f"{where}: {result.output}"
    key, options, _ = stop_at_validation[0]
    written = dict(args[j + 1].split("=", 1) for j, a in enumerate(args) if a == "--option")
    for name, value in written.items():  # string options arrive exactly as written
        if text_values(LABELER_MODELS[key].model_fields[name].annotation) is not None:
            assert options[name] == value, (where, name)


def test_inline_option_mentions_name_real_options():
    """`--option KEY=...` in the docs' prose names an option of some labeler."""
    known = {name for model in LABELER_MODELS.values() for name in model.model_fields}
    for path in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for key in re.findall(r"--option ([a-z_]+)=", text):
            assert key in known, f"{path.name}: --option {key}= is no labeler's option"
