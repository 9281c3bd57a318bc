"""One declaration per setting: every field of every stage's settings model, and every option
of every labeler, is reachable from the command line and from a run config, under the same
name. The stages and labelers come from the registries, so a new field is checked too."""

from __future__ import annotations

import contextlib
import types
import typing
from typing import Literal

import pytest
import typer.main
from cli_runner import run_json, runner
from pydantic import BaseModel
from settings_models import models_in

from prefsmith.cli.app import app
from prefsmith.cli.label import LABELER_FLAGS, labeler_options
from prefsmith.cli.model_options import flag_of
from prefsmith.finetune.registry import EVALUATIONS, TRAINERS
from prefsmith.labelers.registry import REGISTRY, options_of
from prefsmith.schemas.builds import BuildStage, build_kinds
from prefsmith.schemas.config import (
    ExportConfig,
    HHIngestConfig,
    IngestStage,
    PromptIngestConfig,
    TrainConfig,
)
from prefsmith.schemas.evaluations import LabelerEvalConfig
from prefsmith.schemas.preference_ingest import (
    CompletionIngestConfig,
    LabelIngestConfig,
    PairIngestConfig,
)
from prefsmith.schemas.run_config import (
    AnnotatePushConfig,
    AnnotateStage,
    EvaluateConfig,
    GenerateConfig,
    LabelConfig,
    ReportConfig,
    RewardModelStage,
    RunConfig,
)
from prefsmith.schemas.self_reward import SelfRewardConfig

STAGES: list[tuple[list[str], type[BaseModel]]] = [
    (["ingest", "hh-rlhf"], HHIngestConfig),
    (["ingest", "prompts"], PromptIngestConfig),
    (["ingest", "pairs"], PairIngestConfig),
    (["ingest", "completions"], CompletionIngestConfig),
    (["ingest", "labels"], LabelIngestConfig),
    (["generate"], GenerateConfig),
    (["label"], LabelConfig),
    (["annotate", "push"], AnnotatePushConfig),
    (["export"], ExportConfig),
    *[(["build", kind], model) for kind, model in build_kinds().items()],
    *[(["train", name], TrainConfig) for name in TRAINERS],
    *[(["train", name], trainer.options) for name, trainer in TRAINERS.items()],
    *[(["eval", kind], EvaluateConfig) for kind in EVALUATIONS],
    *[(["eval", kind], evaluation.options) for kind, evaluation in EVALUATIONS.items()],
    (["self-reward"], SelfRewardConfig),
    (["eval", "labelers"], LabelerEvalConfig),
]
# Fields a flag of their own can't carry, and the route that carries them instead.
ROUTES = {
    (LabelConfig, "options"): ("--option", "--options"),
    (TrainConfig, "settings"): ("--set", "--config"),
    # the trainer's options model, whose every field is checked as a stage of its own
    (TrainConfig, "options"): ("--output",),
    (SelfRewardConfig, "settings"): ("--set", "--config"),
    # the kind's options model, whose every field is checked as a stage of its own
    (EvaluateConfig, "options"): ("--policy",),
}
# Run-config sections that are containers of the stages above, or that only a run has.
CONTAINERS = {IngestStage, AnnotateStage, BuildStage}
RUN_ONLY = {ReportConfig: "the report of the run itself: `prefsmith run` writes it"}


def _command(path: list[str]):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return command


def _reachable(path: list[str], model: type[BaseModel], name: str) -> bool:
    command = _command(path)
    flags = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    arguments = {param.name for param in command.params if param.param_type_name == "argument"}
    field = model.model_fields[name]
    if name in arguments or flag_of(name) in flags:
        return True
    if (model, name) in ROUTES:
        return set(ROUTES[(model, name)]) <= flags
    fixed = typing.get_origin(field.annotation) is Literal
    if name in ("trainer", "kind"):  # the subcommand names it: `train rm`, `eval dpo`
        return True
    return fixed and path[-1] in {str(v) for v in typing.get_args(field.annotation)} | {
        path[-1]
    }  # the subcommand names it: `train rm`, `build rm-pairs`


@pytest.mark.parametrize(
    ("path", "model"), STAGES, ids=lambda v: "-".join(v) if isinstance(v, list) else ""
)
def test_every_stage_field_is_a_command_line_option(path, model):
    missing = [name for name in model.model_fields if not _reachable(path, model, name)]
    assert missing == [], f"prefsmith {' '.join(path)} cannot set {missing}"


def test_every_stage_model_is_a_run_config_section():
    in_run_config = models_in(RunConfig, set())
    # Trainer and evaluation options are a `train:`/`evaluate:` entry's `options` (or its keys).
    registered = {t.options for t in TRAINERS.values()} | {e.options for e in EVALUATIONS.values()}
    assert {model for _, model in STAGES} - registered <= in_run_config


def test_every_run_config_section_has_a_command():
    """A new stage in the run config gets its command, or says here why it has none."""
    commands = {model for _, model in STAGES} | {RewardModelStage} | set(RUN_ONLY) | CONTAINERS
    sections = {m for m in models_in(RunConfig, set()) if m.__module__.startswith("prefsmith.")}
    assert sections - commands == set()


def test_a_reward_models_entry_is_build_preference_then_train_rm():
    """`reward_models:` is `build preference` of human labels, then `train rm` on them."""
    build = _command(["build", "preference"])
    train = _command(["train", "rm"])
    flags = {opt for c in (build, train) for p in c.params for opt in (*p.opts, *p.secondary_opts)}
    for name in RewardModelStage.model_fields:
        routes = {"settings": "--set", "output": "--output", "base": "--base"}
        assert routes.get(name, flag_of(name)) in flags, name


def test_the_annotate_pull_entries_are_its_project_flag():
    assert AnnotateStage.model_fields["pull"].annotation == list[str]
    assert "--project" in {opt for p in _command(["annotate", "pull"]).params for opt in p.opts}


SAMPLES = {int: 3, float: 0.5, bool: True, str: "x"}


def _value(field) -> object:
    """A valid value for a labeler option: its default, else one of its type."""
    if not field.is_required():
        value = field.get_default(call_default_factory=True)
        if value not in (None, [], {}):
            return value
    annotation = field.annotation
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if typing.get_origin(annotation) is Literal:
        return typing.get_args(annotation)[0]
    if typing.get_origin(annotation) is list:
        return ["x"]
    return SAMPLES.get(annotation, "x")


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_every_labeler_option_is_reachable_from_the_cli_and_a_run_config(key, tmp_path):
    options = REGISTRY[key].Options
    for name, field in options.model_fields.items():
        value = _value(field)
        required = {n: "x" for n, f in options.model_fields.items() if f.is_required()}
        import yaml

        text = f"{name}={yaml.safe_dump(value, default_flow_style=True).strip().removesuffix('...').strip()}"
        given = labeler_options({}, [text], None)  # --option NAME=VALUE
        assert name in options_of(key, {**required, **given}).model_fields_set, (key, name)
        file = tmp_path / "options.yaml"
        file.write_text(yaml.safe_dump({name: value}))
        from_file = labeler_options({}, None, str(file))  # --options FILE
        assert options_of(key, {**required, **from_file}) == options_of(key, {**required, **given})
        entry = LabelConfig(labeler=key, options={**required, name: value})  # run config
        assert name in options_of(key, entry.options).model_fields_set
    flags = {opt for p in _command(["label"]).params for opt in p.opts}
    for name in set(options.model_fields) & set(LABELER_FLAGS):
        assert flag_of(name) in flags


def test_an_unknown_labeler_option_names_the_valid_ones(tmp_path):
    (tmp_path / "store").mkdir()
    result = runner.invoke(
        app,
        ["label", "--store", str(tmp_path / "store"), "--labeler", "reward_model",
         "--model", "x", "--option", "lable=LABEL_1"],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "labeler reward_model: unknown key 'lable'" in result.stderr
    assert "input_format, label, max_length" in result.stderr


@pytest.mark.prefect
def test_option_label_reaches_the_reward_model(hh_datasets, tiny_encoder, tmp_path):
    """`--option label=NAME` picks that output of a two-label model: another fingerprint and
    other scores than the other label."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = tmp_path / "two-label-rm"
    id2label = {0: "harmless", 1: "helpful"}
    AutoModelForSequenceClassification.from_pretrained(
        tiny_encoder, num_labels=2, id2label=id2label, label2id={v: k for k, v in id2label.items()}
    ).save_pretrained(model)
    AutoTokenizer.from_pretrained(tiny_encoder).save_pretrained(model)
    store = str(hh_datasets.root)
    common = ["label", "--store", store, "--labeler", "reward_model", "--model", str(model),
              "--limit", "4", "--max-length", "64"]  # fmt: skip
    first = run_json(*common, "--option", "label=harmless", "--name", "rm-harmless")
    second = run_json(*common, "--option", "label=helpful", "--name", "rm-helpful")
    assert first["labeled"] == second["labeled"] == 4
    labels = hh_datasets.scan("labels").collect()
    harmless = labels.filter(labels["labeler"] == "rm-harmless")
    helpful = labels.filter(labels["labeler"] == "rm-helpful")
    assert harmless["fingerprint"][0] != helpful["fingerprint"][0]
    assert (
        harmless.sort("candidate_ids")["scores"].to_list()
        != helpful.sort("candidate_ids")["scores"].to_list()
    )


NON_DEFAULT = {"base": "some/model", "lora_r": 3, "max_length": 77, "margin": True, "eval_rows": 5}


@contextlib.contextmanager
def _no_session():
    """flow_session without Prefect: the flow's return value is the result."""
    yield types.SimpleNamespace(result=lambda value: value)


@pytest.mark.parametrize("name", sorted(TRAINERS))
def test_every_trainer_flag_reaches_the_trainer_and_max_length_reaches_trl(
    name, hh_datasets, monkeypatch, tmp_path
):
    """A flag generated from a trainer's options model changes what the trainer is called
    with; a policy trainer's `--max-length` ends in trl's config (it was once dropped)."""
    from prefsmith.cli import runner as cli_runner
    from prefsmith.finetune import policy
    from prefsmith.finetune.registry import trainer_options
    from prefsmith.finetune.settings import trainer_config
    from prefsmith.flows import finetune as finetune_flows

    model = TRAINERS[name].options
    given = {field: NON_DEFAULT[field] for field in model.model_fields}
    assert set(given) == set(model.model_fields), "add a non-default value for the new option"
    dataset = "hh-rip" if name == "sft" else "hh"
    captured: dict = {}
    monkeypatch.setattr(cli_runner, "flow_session", _no_session)
    monkeypatch.setattr(finetune_flows, "train_stage", lambda **kw: captured.update(kw) or {})
    args = ["train", name, "--store", str(hh_datasets.root), "--dataset", dataset,
            "--output", str(tmp_path / "out")]  # fmt: skip
    for field, value in given.items():
        args += [flag_of(field)] if value is True else [flag_of(field), str(value)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    options = trainer_options(name, captured["config"]["options"])
    assert options.model_dump() == given
    if name == "rm":
        return
    seen: dict = {}

    def stop(method, store, dataset, output, **kwargs):
        seen.update(kwargs)
        raise RuntimeError("stop before loading a model")

    monkeypatch.setattr(policy, "policy_trainer", stop)
    with pytest.raises(RuntimeError, match="stop before"):
        TRAINERS[name].train(hh_datasets, dataset, tmp_path / "out", options, settings={})
    assert seen["policy"] == "some/model" and seen["lora_r"] == 3 and seen["eval_rows"] == 5
    trl_config = {"dpo": "DPOConfig", "kto": "KTOConfig", "sft": "SFTConfig"}[name]
    import trl

    args = trainer_config(getattr(trl, trl_config), tmp_path, {}, seen["overrides"])
    assert args.max_length == 77
