"""Fine-tune and evaluation flows: what `prefsmith train …` and `prefsmith eval …` run.

    prefsmith train rm --store S --dataset hh --output models/rm
    prefect deployment run 'train/train-dpo-gpu'     # the same flow on a GPU work pool

The `train` flow takes the trainer by name (rm, dpo, sft) so one deployment can
serve every trainer; a pipeline run calls it as a subflow after its builds.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from pathlib import Path
from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.finetune.registry import TRAINERS
from prefsmith.runtime.task_runners import limit_slot
from prefsmith.schemas.config import TrainConfig
from prefsmith.schemas.run_config import EvaluateConfig
from prefsmith.store import Store

STAGE_MARKER = "prefsmith-stage.json"  # what a pipeline run trained or evaluated here
EVALUATIONS = {
    "reward-matching": "prefsmith.finetune.evaluate:reward_matching",
    "dpo": "prefsmith.finetune.evaluate:dpo_evaluation",
}


def _resolve(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def accelerator_limit() -> str:
    """`prefsmith-train-cuda` where a GPU is visible, else `prefsmith-train-cpu`: the Prefect
    global concurrency limit a training run holds (when it exists on the server)."""
    import torch

    return f"prefsmith-train-{'cuda' if torch.cuda.is_available() else 'cpu'}"


@task(name="train_model", cache_policy=NONE, persist_result=False)
def train_task(store: str, trainer: str, dataset: str, output: str, options: dict) -> dict:
    with limit_slot(accelerator_limit()):
        return TRAINERS[trainer].function()(Store(store), dataset, Path(output), **options)


@flow(name="train")
def train(
    store: str, trainer: str, dataset: str, output: str, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Train a reward model (`rm`), a DPO policy (`dpo`) or a reward-conditioned SFT policy
    (`sft`) on a built dataset; the output folder holds the model, its config, metrics and card."""
    if trainer not in TRAINERS:
        raise ValueError(f"trainer must be one of {', '.join(TRAINERS)}")
    return train_task(store, trainer, dataset, output, options or {})


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
    evaluation = _resolve(EVALUATIONS[config.kind])
    options = config.options.model_dump()
    return evaluation(Store(store), config.dataset, output=Path(config.output), **options)


@flow(name="evaluate", flow_run_name="evaluate-{config.kind}")
def evaluate(store: str, config: EvaluateConfig) -> dict[str, Any]:
    """Reward matching of a reward-conditioned policy, or a DPO policy against its base
    (`config` is a run config's `evaluate:` entry: kind, dataset, output, options)."""
    return evaluate_task(store, EvaluateConfig.model_validate(config))


def dataset_digest(store: str, dataset: str) -> str:
    """A hash of a built dataset's data files: a rebuild with the same rows keeps it."""
    from prefsmith.schemas.ids import content_hash
    from prefsmith.store import load_manifest

    manifest = load_manifest(Store(store), dataset)
    folder = Path(store) / "datasets" / dataset
    digests = {
        split: hashlib.sha256((folder / relative).read_bytes()).hexdigest()
        for split, relative in sorted(manifest["data_files"].items())
    }
    return content_hash({"kind": manifest["kind"], "files": digests})


def _stage_key(store: str, parameters: dict[str, Any]) -> str:
    from prefsmith.schemas.ids import content_hash

    return content_hash({**parameters, "dataset": dataset_digest(store, parameters["dataset"])})


def up_to_date(output: str | Path, key: str, record: str) -> dict[str, Any] | None:
    """The stored summary of a finished run with this key, or None if it must (re)run."""
    marker = Path(output) / STAGE_MARKER
    if not (Path(output) / record).is_file() or not marker.is_file():
        return None
    stored = json.loads(marker.read_text())
    return stored["summary"] if stored.get("key") == key else None


def mark_done(output: str | Path, key: str, summary: dict[str, Any]) -> None:
    marker = Path(output) / STAGE_MARKER
    marker.write_text(json.dumps({"key": key, "summary": summary}, indent=2, default=str))


def launch_training(store: str, config: Any) -> dict[str, Any]:
    """A run config's `train:` entry: a subflow here, or a run of a deployment on another
    work pool (a GPU pool in production) when `deployment` is set. A rerun with the same
    dataset rows and settings returns the finished run's summary instead of training again."""
    parameters = {
        "store": store,
        "trainer": config.trainer,
        "dataset": config.dataset,
        "output": config.output,
        "options": config.flow_options(),
    }
    key = _stage_key(store, {k: v for k, v in parameters.items() if k != "store"})
    if not config.resume and (done := up_to_date(config.output, key, "prefsmith-train.json")):
        return {**done, "skipped": "up to date", "seconds": 0.0}
    if not config.deployment:
        summary = train(**parameters)
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


@flow(name="train-stage")
def train_stage(store: str, config: TrainConfig) -> dict[str, Any]:
    """`prefsmith train TRAINER`: a run config's `train:` entry on its own (skipped when the
    output holds a finished run on the same dataset rows and settings)."""
    return launch_training(store, TrainConfig.model_validate(config))


def launch_evaluation(store: str, config: EvaluateConfig) -> dict[str, Any]:
    """A run config's `evaluate:` entry, skipped when its policy, dataset and options are
    those of the finished evaluation in its output folder."""
    trained = Path(config.options.policy) / "prefsmith-train.json"
    key = _stage_key(
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
