"""`prefsmith train rm|dpo|sft|openai` and `prefsmith eval reward-matching|dpo`."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

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

train_app = typer.Typer(help="Fine-tune on a built dataset.", no_args_is_help=True)
eval_app = typer.Typer(
    help="Evaluate a tuned policy on held-out prompts, or the labelers against gold labels.",
    no_args_is_help=True,
)

DatasetOption = Annotated[str, typer.Option(help="A dataset built in the store (its name).")]
OutputOption = Annotated[str, typer.Option(help="Folder for the model, config, metrics, card.")]
ConfigOption = Annotated[
    str | None, typer.Option(help="YAML of trl config settings (RewardConfig, DPOConfig, ...).")
]
SetOption = Annotated[
    list[str] | None, typer.Option("--set", help="A trl setting, KEY=VALUE (repeatable).")
]
ResumeOption = Annotated[bool, typer.Option(help="Continue from the last checkpoint in OUTPUT.")]
LoraOption = Annotated[int | None, typer.Option(help="Train a LoRA adapter of this rank.")]
PolicyOption = Annotated[
    str | None, typer.Option(help="Policy: Hub id or folder (default: bundled SmolLM2).")
]


def trl_settings(config: str | None, assignments: list[str] | None) -> dict[str, Any]:
    """trl settings from `--config FILE` and `--set KEY=VALUE` (these win)."""
    from prefsmith.schemas.config import parse_assignments, read_settings_file

    return {**read_settings_file(config), **parse_assignments(assignments)}


def train_command(trainer: str, summary: str):
    """`prefsmith train TRAINER`: its options are the fields of `TrainConfig` (the run
    config's `train:` entries); trl settings go through `--config FILE` and `--set`."""
    parameters = [
        *option_parameters(TrainConfig, skip=("trainer",)),
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
        from prefsmith.cli.runner import run_flow
        from prefsmith.finetune.datasets import built_dataset
        from prefsmith.finetune.registry import TRAINERS
        from prefsmith.store import Store

        settings = validate_options(TrainConfig, {"trainer": trainer, **values})
        settings["settings"] = trl_settings(config, set_)
        train = TrainConfig.model_validate(settings)
        require_store(store)
        built_dataset(Store(store), train.dataset, TRAINERS[trainer].kinds)  # before Prefect
        Path(train.output).mkdir(parents=True, exist_ok=True)
        result = run_flow("prefsmith.flows.finetune:train_stage", store=store, config=settings)
        emit(result, json_, f"train {trainer} -> {train.output}")

    command.__doc__ = summary
    return command


def _register_trainers() -> None:
    from prefsmith.finetune.registry import TRAINERS

    for name, trainer in TRAINERS.items():
        train_app.command(name)(train_command(name, trainer.summary))


_register_trainers()


@train_app.command("openai")
@user_errors
def train_openai(
    dataset: DatasetOption,
    store: StoreOption = "prefsmith-store",
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
    from prefsmith.cli.runner import run_flow
    from prefsmith.finetune.openai_jobs import dataset_files
    from prefsmith.store import Store

    require_store(store)
    if method not in ("sft", "dpo"):
        raise UserError(f"--method must be sft or dpo, not {method!r}")
    dataset_files(Store(store), dataset, method)
    options = {"method": method, "model": model, "suffix": suffix, "beta": beta, "wait": wait}
    options["base_url"] = base_url
    summary = run_flow(
        "prefsmith.flows.finetune:train_openai", store=store, dataset=dataset, options=options
    )
    emit(summary, json_, f"train openai {summary['job_id']}")


def eval_command(kind: str):
    """`prefsmith eval KIND`: its options are the fields of the run config's `evaluate:` entry
    and of the kind's options model (`schemas.evaluations`)."""
    from prefsmith.schemas.evaluations import EVALUATION_OPTIONS
    from prefsmith.schemas.run_config import EvaluateConfig

    model = EVALUATION_OPTIONS[kind]
    parameters = [
        *option_parameters(EvaluateConfig, skip=("kind", "options")),
        *option_parameters(model),
        *common_parameters(store=True, json_=True),
    ]

    @with_parameters(parameters)
    @user_errors
    def command(store: str, json_: bool, dataset: str, output: str, **values: Any) -> None:
        from prefsmith.cli.runner import run_flow
        from prefsmith.finetune.datasets import built_dataset
        from prefsmith.schemas.config import validate
        from prefsmith.schemas.evaluations import EVALUATION_DATASETS
        from prefsmith.store import Store

        options = validate_options(model, values)
        config = validate(
            EvaluateConfig, {"kind": kind, "dataset": dataset, "output": output, "options": options}
        )
        require_store(store)
        built_dataset(Store(store), dataset, EVALUATION_DATASETS[kind])  # before Prefect
        if endpoint := options.get("judge_endpoint"):
            from prefsmith.labelers.endpoints import check_endpoint

            check_endpoint(endpoint, options.get("judge_model"))
        summary = run_flow(
            "prefsmith.flows.finetune:evaluate",
            store=store,
            config=config.model_dump(exclude_unset=True),
        )
        emit(summary, json_, f"eval {kind} -> {output}")

    command.__doc__ = model.__doc__
    return command


def _register_evaluations() -> None:
    from prefsmith.cli.eval_labelers import eval_labelers
    from prefsmith.schemas.evaluations import EVALUATION_OPTIONS

    for kind in EVALUATION_OPTIONS:
        eval_app.command(kind)(eval_command(kind))
    eval_app.command("labelers")(eval_labelers)


_register_evaluations()
