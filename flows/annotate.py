"""Annotation flows: push on demand, pull on a schedule (every 15 minutes in prefect.yaml).

    prefsmith annotate push --store S --project "hh ranking" --select disagreement --labelers rm,judge
    prefsmith annotate pull --store S --project "hh ranking"

The server is LABEL_STUDIO_URL with the token LABEL_STUDIO_API_KEY (on the worker, for
deployments).
"""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NONE

from prefsmith.annotation.label_studio import LabelStudio
from prefsmith.annotation.tasks import pull, push
from prefsmith.schemas.run_config import AnnotatePushConfig
from prefsmith.store import Store


@task(name="push_tasks", cache_policy=NONE, persist_result=False)
def push_task(store: str, project: str, options: dict[str, Any]) -> dict[str, Any]:
    return push(Store(store), LabelStudio(), project, **options)


@flow(name="annotate-push")
def annotate_push(store: str, config: AnnotatePushConfig) -> dict[str, Any]:
    """Send the selected items the project doesn't hold yet, with model predictions (the
    fields of `AnnotatePushConfig`, as in a run config's `annotate: push:`)."""
    options = AnnotatePushConfig.model_validate(config).model_dump()
    project, select = options.pop("project"), options.pop("select")
    return push_task(store, project, {**options, "policy": select})


@task(name="pull_annotations", cache_policy=NONE, persist_result=False)
def pull_task(store: str, project: str) -> dict[str, Any]:
    return pull(Store(store), LabelStudio(), project)


@flow(name="annotate-pull")
def annotate_pull(store: str, project: str) -> dict[str, Any]:
    """Bring the project's annotations back as `human:label-studio` labels."""
    return pull_task(store, project)
