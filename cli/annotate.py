"""`prefsmith annotate push|pull`: the annotation team's round trip through Label Studio."""

from __future__ import annotations

from typing import Annotated

import typer

from prefsmith.cli.common import JsonOption, StoreOption, emit, require_store, user_errors

annotate_app = typer.Typer(
    help="Send candidates to Label Studio and bring the rankings back as labels.",
    no_args_is_help=True,
)
ProjectOption = Annotated[str, typer.Option(help="Project title (created on first push).")]


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


@annotate_app.command("push")
@user_errors
def annotate_push(
    project: ProjectOption,
    store: StoreOption = "prefsmith-store",
    template: Annotated[str, typer.Option(help="ranker (2..N best first) or pairwise.")] = "ranker",
    select: Annotated[
        str, typer.Option(help="all, random, disagreement, margin or inconsistent.")
    ] = "all",
    labelers: Annotated[
        str | None, typer.Option(help="Labelers the policy reads, comma-separated.")
    ] = None,
    predictions: Annotated[
        str | None, typer.Option(help="Labelers shown as predictions (default: --labelers).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option(help="The first N selected items (raise it to send more).")
    ] = None,
    per_prompt: Annotated[int | None, typer.Option(help="At most N items per prompt.")] = None,
    max_candidates: Annotated[int, typer.Option(help="ranker: candidates per task.")] = 4,
    seed: Annotated[int, typer.Option(help="random: the sample's seed.")] = 0,
    json_: JsonOption = False,
) -> None:
    """Create tasks for the selected items; items already in the project are skipped."""
    from prefsmith.annotation.label_studio import LabelStudio, label_config
    from prefsmith.cli.runner import run_flow

    require_store(store)
    label_config(template)
    LabelStudio().check()  # unreachable server or rejected token: one line, before Prefect
    summary = run_flow(
        "prefsmith.flows.annotate:annotate_push",
        store=store,
        project=project,
        template=template,
        select=select,
        labelers=_names(labelers),
        predictions_from=_names(predictions),
        limit=limit,
        per_prompt=per_prompt,
        max_candidates=max_candidates,
        seed=seed,
    )
    emit(summary, json_, f"annotate push -> {project}")


@annotate_app.command("pull")
@user_errors
def annotate_pull(
    project: ProjectOption, store: StoreOption = "prefsmith-store", json_: JsonOption = False
) -> None:
    """Annotations -> `human:label-studio` labels (one per annotator; edits update in place)."""
    from prefsmith.annotation.label_studio import LabelStudio
    from prefsmith.cli.runner import run_flow

    require_store(store)
    studio = LabelStudio()
    studio.check()
    studio.project(project)  # a missing project: one line
    summary = run_flow("prefsmith.flows.annotate:annotate_pull", store=store, project=project)
    emit(summary, json_, f"annotate pull <- {project}")
