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
    parse_pairs,
    require_store,
    user_errors,
)
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.config import TrainConfig
from prefsmith.schemas.errors import UserError

train_app = typer.Typer(help="Fine-tune on a built dataset.", no_args_is_help=True)
eval_app = typer.Typer(help="Evaluate a tuned policy on held-out prompts.", no_args_is_help=True)

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


def _settings(config: str | None, assignments: list[str] | None) -> dict[str, Any]:
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
        settings["settings"] = _settings(config, set_)
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


SamplesOption = Annotated[int, typer.Option(help="Held-out prompts to answer.")]
TokensOption = Annotated[int, typer.Option(help="Tokens per answer.")]
DeviceOption = Annotated[str, typer.Option(help="auto, cpu or cuda.")]


def _evaluate(kind: str, store: str, dataset: str, output: str, options: dict, json_: bool):
    from prefsmith.cli.runner import run_flow
    from prefsmith.finetune.datasets import built_dataset
    from prefsmith.store import Store

    require_store(store)
    kinds = {"reward-matching": ("reward-in-prompt",), "dpo": ("preference",)}
    built_dataset(Store(store), dataset, kinds[kind])
    summary = run_flow(
        "prefsmith.flows.finetune:evaluate",
        store=store,
        kind=kind,
        dataset=dataset,
        output=output,
        options=options,
    )
    emit(summary, json_, f"eval {kind} -> {output}")


@eval_app.command("reward-matching")
@user_errors
def eval_reward_matching(
    dataset: DatasetOption,
    policy: Annotated[str, typer.Option(help="The reward-conditioned policy folder.")],
    rm: Annotated[
        str, typer.Option(help="DIMENSION=RM_FOLDER for each dimension, comma-separated.")
    ],
    output: OutputOption,
    store: StoreOption = "prefsmith-store",
    samples: SamplesOption = 32,
    max_new_tokens: TokensOption = 64,
    seed: Annotated[int, typer.Option(help="Seed of the sampled targets.")] = 0,
    device: DeviceOption = "auto",
    json_: JsonOption = False,
) -> None:
    """Requested vs achieved reward per dimension: correlations and a scatter plot each."""
    options = {
        "policy": policy,
        "reward_models": parse_pairs(rm, "--rm"),
        "samples": samples,
        "max_new_tokens": max_new_tokens,
        "seed": seed,
        "device": device,
    }
    _evaluate("reward-matching", store, dataset, output, options, json_)


@eval_app.command("dpo")
@user_errors
def eval_dpo(
    dataset: DatasetOption,
    policy: Annotated[str, typer.Option(help="The tuned policy folder.")],
    rm: Annotated[str, typer.Option(help="Reward model folder to score the answers.")],
    output: OutputOption,
    store: StoreOption = "prefsmith-store",
    base: PolicyOption = None,
    judge_endpoint: Annotated[
        str | None, typer.Option(help="Judge tuned vs base too: local or an OpenAI-compatible URL.")
    ] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's model.")] = None,
    samples: SamplesOption = 16,
    max_new_tokens: TokensOption = 64,
    device: DeviceOption = "auto",
    json_: JsonOption = False,
) -> None:
    """Mean reward of tuned vs base answers, and the judge's win rate of tuned over base."""
    options: dict[str, Any] = {
        "policy": policy,
        "reward_model": rm,
        "base": base,
        "samples": samples,
        "max_new_tokens": max_new_tokens,
        "device": device,
    }
    if judge_endpoint:
        from prefsmith.labelers.endpoints import check_endpoint

        check_endpoint(judge_endpoint, judge_model)
        options["judge"] = {"endpoint": judge_endpoint, "model": judge_model, "max_tokens": 256}
    _evaluate("dpo", store, dataset, output, options, json_)
