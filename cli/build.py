"""`prefsmith build …`, `prefsmith prompt`, `prefsmith export`: datasets from the store."""

from __future__ import annotations

import sys
import typing
from collections.abc import Callable
from typing import Annotated, Any, Literal

import typer
from pydantic import BaseModel

from prefsmith.cli.common import (
    JsonOption,
    StoreOption,
    common_parameters,
    emit,
    require_store,
    user_errors,
)
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.builds import build_kinds
from prefsmith.schemas.config import ExportConfig
from prefsmith.schemas.errors import UserError
from prefsmith.schemas.locations import DEFAULT_STORE

build_app = typer.Typer(help="Build datasets from the store's labels.", no_args_is_help=True)

# What the command line assumes that a run config spells out.
CLI_DEFAULTS: dict[str, dict[str, Any]] = {
    "preference": {"from_labelers": ["human:hh-rlhf"]},
    "rm-pairs": {"from_labelers": ["human:hh-rlhf"]},
}


def build_command(kind: str, settings_model: type[BaseModel]) -> Callable[..., None]:
    """`prefsmith build KIND`: its options are the fields of the kind's settings model."""
    defaults = {"name": kind, **CLI_DEFAULTS.get(kind, {})}
    fixed = {
        name for name, field in settings_model.model_fields.items()
        if typing.get_origin(field.annotation) is Literal
        and len(typing.get_args(field.annotation)) == 1
    }  # fmt: skip
    parameters = option_parameters(settings_model, skip=fixed, defaults=defaults)
    parameters += common_parameters(store=True, json_=True)

    @with_parameters(parameters)
    @user_errors
    def command(store: str, json_: bool, **options: Any) -> None:
        from prefsmith.builders.registry import build_settings
        from prefsmith.cli.runner import flow_session
        from prefsmith.flows import build as build_flows
        from prefsmith.store import Store

        settings = validate_options(settings_model, options)
        build_settings(kind, settings)  # every mistake in one line, before Prefect starts
        require_store(store)
        Store(store).ensure_writable()
        with flow_session() as session:
            summary = session.result(
                build_flows.build(store=store, kind=kind, settings=settings, return_state=True)
            )
        emit(summary, json_, f"build {kind} -> {summary['path']}")

    command.__doc__ = (settings_model.__doc__ or kind).split(":", 1)[-1].strip()
    return command


for _kind, _model in build_kinds().items():
    build_app.command(_kind)(build_command(_kind, _model))


@user_errors
def prompt(
    text: Annotated[str, typer.Argument(help="The user's message.")],
    dataset: Annotated[str, typer.Option(help="A reward-in-prompt dataset of the store.")],
    target: Annotated[str, typer.Option(help="Target rewards, e.g. helpful=0.9,harmless=0.8.")],
    store: StoreOption = DEFAULT_STORE,
    raw: Annotated[
        bool, typer.Option(help="Targets are raw scores: normalise them as the dataset did.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Render an inference prompt exactly as the reward-in-prompt dataset renders its rows."""
    from prefsmith.builders.reward_prompt import (
        Normalizer,
        RewardTemplate,
        parse_targets,
        render_prompt,
    )
    from prefsmith.store import Store, load_manifest

    manifest = load_manifest(Store(store), dataset)
    if manifest["kind"] != "reward-in-prompt":
        raise UserError(f"{dataset} is a {manifest['kind']} dataset, not reward-in-prompt")
    names = list(manifest["config"]["rewards"])
    values = parse_targets(target, names)
    if raw:
        values = {n: Normalizer(**manifest["normalization"][n])(v) for n, v in values.items()}
    template = RewardTemplate(**manifest["template"])
    rendered = render_prompt([{"role": "user", "content": text}], values, template)
    if json_:
        emit({"prompt": rendered, "rewards": values}, True, "")
    else:
        sys.stdout.write(rendered + "\n")


@with_parameters(option_parameters(ExportConfig) + common_parameters(store=True, json_=True))
@user_errors
def export(store: str, json_: bool, **values: Any) -> None:
    """Write a dataset in the Hub layout to a folder, or push it to the Hub in one commit."""
    from prefsmith.builders.export import check_export
    from prefsmith.cli.runner import flow_session
    from prefsmith.flows import export as export_flows
    from prefsmith.store import Store

    settings = validate_options(ExportConfig, values)
    check_export(Store(store), settings["dataset"], settings["to"])
    with flow_session() as session:
        summary = session.result(
            export_flows.export_dataset(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"export {settings['dataset']}")
