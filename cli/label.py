"""`prefsmith label` and `prefsmith generate`: options derived from the settings models.

A labeler's options are its own `Options` model (labelers/*.py). The flags most runs need
(`--model`, `--endpoint`, `--mode`, `--question`, `--batch-size`, ...) are generated from
those models' fields; every other option is reachable as `--option key=value` (repeatable)
or `--options FILE` (YAML), and all of them are checked by the labeler's model.
"""

from __future__ import annotations

import inspect
from typing import Annotated, Any

import typer

from prefsmith.cli.common import common_parameters, emit, require_store, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.schemas.run_config import GenerateConfig, LabelConfig
from prefsmith.schemas.settings_text import parse_assignments, read_settings_file

# Labeler options common enough to be flags of their own; the rest go through --option.
LABELER_FLAGS = (
    "name", "model", "endpoint", "mode", "questions", "preset", "batch_size", "max_length",
    "device", "dtype", "max_concurrency", "batch", "pricing",
)  # fmt: skip
DRY_RUN = inspect.Parameter(
    "dry_run", inspect.Parameter.KEYWORD_ONLY, default=False,
    annotation=Annotated[bool, typer.Option(
        "--dry-run", help="Print the requests, tokens and cost range the run would send, "
        "after what the store holds; send nothing.")],
)  # fmt: skip


def labeler_flag_parameters() -> list[inspect.Parameter]:
    """One optional flag per name of LABELER_FLAGS, typed and described by the first
    labeler whose Options declare it (absent from a labeler's model: an error naming it)."""
    from prefsmith.labelers.registry import REGISTRY

    found: dict[str, inspect.Parameter] = {}
    for labeler in REGISTRY.values():
        for parameter in option_parameters(labeler.Options):
            if parameter.name in LABELER_FLAGS and parameter.name not in found:
                found[parameter.name] = parameter.replace(default=None)
    return [found[name] for name in LABELER_FLAGS if name in found]


def _label_parameters() -> list[inspect.Parameter]:
    flags = [p for p in option_parameters(LabelConfig) if p.name != "labeler"]
    labeler = inspect.Parameter(
        "labeler", inspect.Parameter.KEYWORD_ONLY,
        annotation=Annotated[str, typer.Option(help=LabelConfig.model_fields["labeler"].description)],
    )  # fmt: skip
    option = inspect.Parameter(
        "option", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[list[str] | None, typer.Option(
            "--option", help="Any option of the labeler, KEY=VALUE (repeatable).")],
    )  # fmt: skip
    options = inspect.Parameter(
        "options_path", inspect.Parameter.KEYWORD_ONLY, default=None,
        annotation=Annotated[str | None, typer.Option(
            "--options", help="A YAML file of the labeler's options.")],
    )  # fmt: skip
    common = common_parameters(store=True, json_=True)
    return [labeler, *labeler_flag_parameters(), option, options, *flags, DRY_RUN, *common]


def labeler_options(
    flags: dict[str, Any],
    option: list[str] | None,
    options_path: str | None,
    labeler: str | None = None,
) -> dict[str, Any]:
    """The labeler's options: the file, then `--option`s, then its own flags, later ones
    winning. An `--option` value is read by the type of its field in `labeler`'s Options
    (a string option keeps `on` or `017` as written)."""
    from prefsmith.labelers.registry import REGISTRY

    model = REGISTRY[labeler].Options if labeler in REGISTRY else None
    given = {k: v for k, v in flags.items() if v is not None and v != []}
    return {
        **read_settings_file(options_path, "--options"),
        **parse_assignments(option, "--option", model),
        **given,
    }


@with_parameters(_label_parameters())
@user_errors
def label(
    labeler: str,
    store: str,
    json_: bool,
    option: list[str] | None,
    options_path: str | None,
    dry_run: bool,
    **values: Any,
) -> None:
    """Label the store's candidates; items already labeled with the same fingerprint are skipped."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.labelers.registry import build_labeler
    from prefsmith.runs.scale_out import check_scale_out

    flags = {k: values.pop(k) for k in list(values) if k in LABELER_FLAGS}
    settings = validate_options(LabelConfig, {"labeler": labeler, **values})
    settings["options"] = labeler_options(flags, option, options_path, labeler)
    require_store(store)
    # every mistake in one line, before Prefect
    instance = build_labeler(labeler, settings["options"])
    if settings.get("max_cost") is not None:
        instance.use_budget(settings["max_cost"])  # a price for the model, before any work
    if dry_run:
        from prefsmith.labelers.dry_run import plan_labeling
        from prefsmith.store import Store

        config = LabelConfig.model_validate(settings)
        plan = plan_labeling(
            Store(store),
            instance,
            limit=config.limit,
            origins=config.origins,
            sample=config.sample,
            retry_errors=config.retry_errors,
        )
        emit(plan, json_, f"label {instance.name} --dry-run ({store}): nothing sent")
        return
    check_scale_out(settings.get("shards", 1), settings.get("task_runner"))
    from prefsmith.flows import label as label_flows

    with flow_session() as session:
        summary = session.result(label_flows.label(store=store, config=settings, return_state=True))
    emit(summary, json_, f"label {summary['labeler']} -> {store}")


@with_parameters(
    [*option_parameters(GenerateConfig), DRY_RUN, *common_parameters(store=True, json_=True)]
)
@user_errors
def generate(store: str, json_: bool, dry_run: bool, **values: Any) -> None:
    """Generate candidates for the store's prompts; multi-turn prompts are answered turn by turn."""
    from prefsmith.cli.runner import flow_session
    from prefsmith.endpoints.clients import budget_for
    from prefsmith.endpoints.connect import check_endpoint

    settings = validate_options(GenerateConfig, values)
    require_store(store)
    config = GenerateConfig.model_validate(settings)
    check_endpoint(config.endpoint, config.model)
    if config.max_cost is not None:  # a price for the model, before any work
        budget_for(config, 0.0)
    if dry_run:
        from prefsmith.generation.stage import plan_generate
        from prefsmith.store import Store

        emit(plan_generate(Store(store), config), json_, f"generate --dry-run ({store})")
        return
    from prefsmith.flows import generate as generate_flows

    with flow_session() as session:
        summary = session.result(
            generate_flows.generate(store=store, config=settings, return_state=True)
        )
    emit(summary, json_, f"generate -> {store}")
