"""Fine-tune and evaluation flows: what `prefsmith train …` and `prefsmith eval …` run.

    prefsmith train rm --store S --dataset hh --output models/rm
    prefect deployment run 'train/train-dpo-gpu'     # the same flow on a GPU work pool

The `train` flow takes the trainer by name (finetune/registry.py) so one deployment can
serve every trainer; `train-stage` and `evaluate-stage` are a run config's `train:` and
`evaluate:` entries, skipped when their output holds a finished run on the same dataset
rows and settings (runs/stages.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.finetune.registry import EVALUATIONS, trainer_of, trainer_options
from prefsmith.runs.stages import mark_done, stage_key, up_to_date
from prefsmith.runtime.task_runners import accelerator_limit, limit_slot
from prefsmith.schemas.config import TrainConfig, validate
from prefsmith.schemas.run_config import EvaluateConfig
from prefsmith.store import Store


@task(name="train_model", cache_policy=NONE, persist_result=False)
def train_task(
    store: str, trainer: str, dataset: str, output: str, options: dict, settings: dict, resume: bool
) -> dict:
    spec = trainer_of(trainer)
    with limit_slot(accelerator_limit()):
        return spec.train(
            Store(store),
            dataset,
            Path(output),
            trainer_options(trainer, options),
            settings=settings,
            resume=resume,
        )


@flow(name="train")
def train(
    store: str,
    trainer: str,
    dataset: str,
    output: str,
    options: dict[str, Any] | None = None,
    settings: dict[str, Any] | None = None,
    resume: bool = False,
) -> dict[str, Any]:
    """Train a reward model (`rm`), a DPO or KTO policy (`dpo`, `kto`) or a reward-conditioned
    SFT policy (`sft`) on a built dataset: `options` are the trainer's own, `settings` trl's.
    The output folder holds the model, its config, metrics and card."""
    trainer_options(trainer, options or {})  # a bad key fails before the accelerator slot
    return train_task(store, trainer, dataset, output, options or {}, settings or {}, resume)


@task(name="openai_fine_tuning_job", cache_policy=NONE, persist_result=False)
def openai_task(store: str, dataset: str, options: dict) -> dict:
    from prefsmith.finetune.openai_jobs import launch_openai_job

    return launch_openai_job(Store(store), dataset, **options)


@flow(name="train-openai")
def train_openai(store: str, dataset: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Create (or find, by the training file's hash) an OpenAI fine-tuning job and poll it."""
    return openai_task(store, dataset, options or {})


@task(name="evaluate_policy", cache_policy=NONE, persist_result=False)
def evaluate_task(store: str, config: EvaluateConfig) -> dict:
    evaluation = EVALUATIONS[config.kind]
    options = validate(evaluation.options, config.options, where=f"eval {config.kind}: ")
    return evaluation.function(
        Store(store), config.dataset, output=Path(config.output), **options.model_dump()
    )


@flow(name="evaluate", flow_run_name="evaluate-{config.kind}")
def evaluate(store: str, config: EvaluateConfig) -> dict[str, Any]:
    """Reward matching of a reward-conditioned policy, or a DPO policy against its base
    (`config` is a run config's `evaluate:` entry: kind, dataset, output, options)."""
    return evaluate_task(store, EvaluateConfig.model_validate(config))


@flow(name="train-stage")
def train_stage(store: str, config: TrainConfig) -> dict[str, Any]:
    """A run config's `train:` entry (`prefsmith train TRAINER`): a subflow here, or a run of
    a deployment on another work pool (a GPU pool in production) when `deployment` is set."""
    config = TrainConfig.model_validate(config)
    options = trainer_options(config.trainer, config.options).model_dump()
    parameters = {
        "store": store,
        "trainer": config.trainer,
        "dataset": config.dataset,
        "output": config.output,
        "options": options,
        "settings": config.settings,
        "resume": config.resume,
    }
    key = stage_key(store, {k: v for k, v in parameters.items() if k not in ("store", "resume")})
    if not config.resume and (done := up_to_date(config.output, key, "prefsmith-train.json")):
        return {**done, "skipped": "up to date", "seconds": 0.0}
    if not config.deployment:
        summary = train(
            store, config.trainer, config.dataset, config.output, options, config.settings,
            config.resume,
        )  # fmt: skip
        mark_done(config.output, key, summary)
        return summary
    from prefect.deployments import run_deployment

    flow_run = run_deployment(
        name=config.deployment, parameters=parameters, timeout=None if config.wait else 0
    )
    return {
        "command": f"train {config.trainer}",
        "deployment": config.deployment,
        "flow_run_id": str(flow_run.id),
        "state": flow_run.state.name if flow_run.state else None,
    }


@flow(name="evaluate-stage", flow_run_name="evaluate-stage-{config.kind}")
def evaluate_stage(store: str, config: EvaluateConfig) -> dict[str, Any]:
    """A run config's `evaluate:` entry, skipped when its policy, dataset and options are
    those of the finished evaluation in its output folder."""
    config = EvaluateConfig.model_validate(config)
    trained = Path(config.options.get("policy", "")) / "prefsmith-train.json"
    key = stage_key(
        store,
        {
            **config.model_dump(mode="json"),
            "policy_trained": trained.read_text() if trained.is_file() else None,
        },
    )
    if done := up_to_date(config.output, key, "eval.json"):
        return {**done, "skipped": "up to date", "seconds": 0.0}
    summary = evaluate(store, config)
    mark_done(config.output, key, summary)
    return summary
