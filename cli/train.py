"""`prefsmith train rm|dpo|sft|openai` and `prefsmith eval reward-matching|dpo`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from prefsmith.cli.common import (
    JsonOption,
    StoreOption,
    common_parameters,
    emit,
    require_store,
    user_errors,
)
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.config import TrainConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import DEFAULT_STORE

if TYPE_CHECKING:
    from prefsmith.finetune.registry import Trainer

train_app = typer.Typer(help="Fine-tune on a built dataset.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Evaluate a tuned policy on held-out prompts, or the labelers against gold labels.",
    no_args_is_help=True,
)

DatasetOption = Annotated[str, typer.Option(help="A dataset built in the store (its name).")]
ConfigOption = Annotated[
    str | None, typer.Option(help="YAML of trl config settings (RewardConfig, DPOConfig, ...).")
]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="A trl setting, KEY=VALUE (repeatable).")
]


def trl_settings(config: str | None, assignments: list[str] | None) -> dict[str, Any]:
    """trl settings from `--config FILE` and `--set KEY=VALUE` (these win)."""
    from prefsmith.schemas.settings_text import parse_assignments, read_settings_file

    return {**read_settings_file(config), **parse_assignments(assignments)}


def train_command(trainer: Trainer):
    """`prefsmith train NAME`: its options are the fields of `TrainConfig` (the run config's
    `train:` entries) and of the trainer's own options model; trl settings go through
    `--config FILE` and `--set`."""
    parameters = [
        *option_parameters(TrainConfig, skip=("trainer", "options", "settings")),
        *option_parameters(trainer.options),
        inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=ConfigOption),
        inspect.Parameter("set_", inspect.Parameter.KEYWORD_ONLY, default=None,
                          annotation=SetOption),
        *common_parameters(store=True, json_=True),
    ]  # fmt: skip

    @with_parameters(parameters)
    @user_errors
    def command(
        store: str, json_: bool, config: str | None, set_: list[str] | None, **values: Any
    ) -> None:
        launch_training(trainer, store, values, config, set_, json_)

    command.__doc__ = trainer.summary
    return command


def launch_training(
    trainer: Trainer,
    store: str,
    settings: dict[str, Any],
    config: str | None = None,
    assignments: list[str] | None = None,
    json_: bool = False,
) -> None:
    """What every `prefsmith train NAME` runs: `settings` are its flags (the trainer's options
    and `TrainConfig`'s fields), `config` and `assignments` trl's settings; the `train-stage`
    flow trains, and skips a finished run of the same dataset and settings."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.finetune.datasets import built_dataset
    from prefsmith.flows import finetune as finetune_flows
    from prefsmith.store import Store

    own = trainer.options.model_fields
    settings = {
        **validate_options(
            TrainConfig,
            {"trainer": trainer.name, **{k: v for k, v in settings.items() if k not in own}},
        ),
        "options": validate_options(
            trainer.options, {k: v for k, v in settings.items() if k in own}
        ),
        "settings": trl_settings(config, assignments),
    }
    train = TrainConfig.model_validate(settings)
    require_store(store)
    built_dataset(Store(store), train.dataset, trainer.kinds)  # before Prefect
    Path(train.output).mkdir(parents=True, exist_ok=True)
    with flow_session() as session:
        result = session.result(
            finetune_flows.train_stage(store=store, config=settings, return_state=True)
        )
    emit(result, json_, f"train {trainer.name} -> {train.output}")


def _register_trainers() -> None:
    from prefsmith.finetune.registry import TRAINERS

    for name, trainer in TRAINERS.items():
        train_app.command(name)(train_command(trainer))


_register_trainers()


@train_app.command("openai")
@user_errors
def train_openai(
    dataset: DatasetOption,
    store: StoreOption = DEFAULT_STORE,
    method: Annotated[str, typer.Option(help="sft or dpo.")] = "sft",
    model: Annotated[str, typer.Option(help="Base model to fine-tune.")] = (
        "gpt-4o-mini-2024-07-18"
    ),
    suffix: Annotated[str | None, typer.Option(help="Suffix of the tuned model's name.")] = None,
    beta: Annotated[float | None, typer.Option(help="dpo: beta.")] = None,
    wait: Annotated[bool, typer.Option(help="Poll until the job ends.")] = True,
    base_url: Annotated[
        str | None, typer.Option(envvar="OPENAI_BASE_URL", help="API base URL.")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """A fine-tuning job on OpenAI; a rerun finds the job by the file's hash, never pays twice."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.finetune.openai_jobs import dataset_files
    from prefsmith.flows import finetune as finetune_flows
    from prefsmith.store import Store

    require_store(store)
    if method not in ("sft", "dpo"):
        raise UserError(f"--method must be sft or dpo, not {method!r}")
    dataset_files(Store(store), dataset, method)
    options = {"method": method, "model": model, "suffix": suffix, "beta": beta, "wait": wait}
    options["base_url"] = base_url
    with flow_session() as session:
        summary = session.result(
            finetune_flows.train_openai(
                store=store, dataset=dataset, options=options, return_state=True
            )
        )
    emit(summary, json_, f"train openai {summary['job_id']}")


def eval_command(kind: str):
    """`prefsmith eval KIND`: its options are the fields of the run config's `evaluate:` entry
    and of the kind's options model (`schemas.evaluations`)."""
    from prefsmith.finetune.registry import EVALUATIONS
    from prefsmith.schemas.run_config import EvaluateConfig

    evaluation = EVALUATIONS[kind]
    model = evaluation.options
    parameters = [
        *option_parameters(EvaluateConfig, skip=("kind", "options")),
        *option_parameters(model),
        *common_parameters(store=True, json_=True),
    ]

    @with_parameters(parameters)
    @user_errors
    def command(store: str, json_: bool, dataset: str, output: str, **values: Any) -> None:
        from prefsmith.cli.runner import flow_session
        from prefsmith.finetune.datasets import built_dataset
        from prefsmith.flows import finetune as finetune_flows
        from prefsmith.schemas.config import validate
        from prefsmith.store import Store

        options = validate_options(model, values)
        config = validate(
            EvaluateConfig, {"kind": kind, "dataset": dataset, "output": output, "options": options}
        )
        require_store(store)
        built_dataset(Store(store), dataset, evaluation.kinds)  # before Prefect
        if endpoint := options.get("judge_endpoint"):
            from prefsmith.endpoints.connect import check_endpoint

            check_endpoint(endpoint, options.get("judge_model"))
        with flow_session() as session:
            summary = session.result(
                finetune_flows.evaluate(
                    store=store, config=config.model_dump(exclude_unset=True), return_state=True
                )
            )
        emit(summary, json_, f"eval {kind} -> {output}")

    command.__doc__ = model.__doc__
    return command


def _register_evaluations() -> None:
    from prefsmith.cli.eval_labelers import eval_labelers
    from prefsmith.finetune.registry import EVALUATIONS

    for kind in EVALUATIONS:
        eval_app.command(kind)(eval_command(kind))
    eval_app.command("labelers")(eval_labelers)


_register_evaluations()
