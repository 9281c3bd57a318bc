"""`prefsmith annotate push|pull`: the annotation team's round trip through Label Studio."""

from __future__ import annotations

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
from prefsmith.schemas.locations import DEFAULT_STORE
from prefsmith.schemas.run_config import AnnotatePushConfig

annotate_app = typer.Typer(
    help="Send candidates to Label Studio and bring the rankings back as labels.",
    no_args_is_help=True,
)
ProjectOption = Annotated[str, typer.Option(help="Project title (created on first push).")]


@annotate_app.command("push")
@with_parameters(option_parameters(AnnotatePushConfig) + common_parameters(store=True, json_=True))
@user_errors
def annotate_push(store: str, json_: bool, **values: Any) -> None:
    """Create tasks for the selected items; items already in the project are skipped."""
    from prefsmith.annotation.label_studio import LabelStudio, label_config
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import annotate as annotate_flows

    settings = validate_options(AnnotatePushConfig, values)
    require_store(store)
    label_config(settings.get("template", "ranker"))
    LabelStudio().check()  # unreachable server or rejected token: one line, before Prefect
    with flow_session() as session:
        summary = session.result(
            annotate_flows.annotate_push(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"annotate push -> {settings['project']}")


@annotate_app.command("pull")
@user_errors
def annotate_pull(
    project: ProjectOption, store: StoreOption = DEFAULT_STORE, json_: JsonOption = False
) -> None:
    """Annotations -> `human:label-studio` labels (one per annotator; edits update in place)."""
    from prefsmith.annotation.label_studio import LabelStudio
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import annotate as annotate_flows

    require_store(store)
    studio = LabelStudio()
    studio.check()
    studio.project(project)  # a missing project: one line
    with flow_session() as session:
        summary = session.result(
            annotate_flows.annotate_pull(store=store, project=project, return_state=True)
        )
    emit(summary, json_, f"annotate pull <- {project}")
