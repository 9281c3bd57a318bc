"""`prefsmith build …`, `prefsmith prompt`, `prefsmith export`: datasets from the store."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from prefsmith.flows.cli_common import (
    JsonOption,
    StoreOption,
    emit,
    parse_float,
    parse_pairs,
    require_store,
    user_errors,
)
from prefsmith.schemas.errors import UserError

build_app = typer.Typer(help="Build datasets from the store's labels.", no_args_is_help=True)


def _build_options(
    name: str, splits: str | None, seed: int, license_: str | None
) -> dict[str, Any]:
    from prefsmith.schemas.splits import parse_splits

    options: dict[str, Any] = {"name": name, "seed": seed, "license": license_}
    if splits:
        options["splits"] = parse_splits(splits)
    return options


NameOption = Annotated[
    str, typer.Option("--name", help="Dataset name (a folder under STORE/datasets).")
]
SplitsOption = Annotated[str | None, typer.Option(help="Split fractions, e.g. train=0.9,test=0.1.")]
SeedOption = Annotated[int, typer.Option(help="Seed of the split assignment.")]
LicenseOption = Annotated[
    str | None, typer.Option("--license", help="License for the dataset card.")
]


def _build_pairs(kind: str, store: str, from_: str, options: dict[str, Any], json_: bool) -> None:
    from prefsmith.flows.runner import run_flow
    from prefsmith.flows.store import Store
    from prefsmith.schemas.config import PreferenceBuildConfig, validate

    options["from_labelers"] = [item.strip() for item in from_.split(",") if item.strip()]
    config = validate(PreferenceBuildConfig, {k: v for k, v in options.items() if v is not None})
    require_store(store)
    Store(store).ensure_writable()
    summary = run_flow(
        "prefsmith.flows.build:build_preference_flow", store=store, **config.model_dump()
    )
    emit(summary, json_, f"build {kind} -> {summary['path']}")


FromOption = Annotated[
    str, typer.Option("--from", help="Labeler(s), comma-separated; NAME@FINGERPRINT pins one.")
]
PairsOption = Annotated[
    str, typer.Option(help="best-worst, all, quantile (scores) or adjacent (rankings).")
]
MinMarginOption = Annotated[float, typer.Option(help="Score pairs: minimum score difference.")]


@build_app.command("preference")
@user_errors
def build_preference(
    store: StoreOption = "prefsmith-store",
    from_: FromOption = "human:hh-rlhf",
    name: NameOption = "preference",
    pairs: PairsOption = "best-worst",
    combine: Annotated[str, typer.Option(help="With several labelers: agree or vote.")] = "agree",
    weights: Annotated[str | None, typer.Option(help="Vote weights, e.g. judge=2,rm=1.")] = None,
    min_margin: MinMarginOption = 0.0,
    quantile: Annotated[float, typer.Option(help="Quantile pairs: top q vs bottom q.")] = 0.25,
    format: Annotated[
        str, typer.Option(help="conversational, standard or openai.")
    ] = "conversational",
    origin: Annotated[
        list[str] | None,
        typer.Option(help="Only candidates whose origin starts with this (repeatable)."),
    ] = None,
    splits: SplitsOption = None,
    seed: SeedOption = 0,
    license_: LicenseOption = None,
    json_: JsonOption = False,
) -> None:
    """Preference pairs (prompt/chosen/rejected, trl-ready) from one or more labelers."""
    options = _build_options(name, splits, seed, license_)
    weight_values = {
        k: parse_float(v, "--weights") for k, v in parse_pairs(weights, "--weights").items()
    }
    options |= {
        "pairs": pairs,
        "combine": combine,
        "weights": weight_values,
        "min_margin": min_margin,
    }
    options |= {"quantile": quantile, "format": format, "origins": origin}
    _build_pairs("preference", store, from_, options, json_)


@build_app.command("rm-pairs")
@user_errors
def build_rm_pairs(
    store: StoreOption = "prefsmith-store",
    from_: FromOption = "human:hh-rlhf",
    name: NameOption = "rm-pairs",
    pairs: PairsOption = "best-worst",
    min_margin: MinMarginOption = 0.0,
    splits: SplitsOption = None,
    seed: SeedOption = 0,
    license_: LicenseOption = None,
    json_: JsonOption = False,
) -> None:
    """Reward-model training pairs: chosen/rejected dialogues with a margin column."""
    options = _build_options(name, splits, seed, license_)
    options |= {"pairs": pairs, "min_margin": min_margin, "format": "rm-pairs"}
    _build_pairs("rm-pairs", store, from_, options, json_)


@build_app.command("reward-in-prompt")
@user_errors
def build_reward_in_prompt(
    rewards: Annotated[
        str, typer.Option(help="Dimensions and labelers, e.g. helpful=rm-a,harmless=rm-b.")
    ],
    store: StoreOption = "prefsmith-store",
    name: NameOption = "reward-in-prompt",
    normalize: Annotated[
        str, typer.Option(help="minmax, zscore-sigmoid, quantile or none.")
    ] = "minmax",
    open_tag: Annotated[str, typer.Option(help="Line opening the reward block.")] = "<REWARD>",
    start_tag: Annotated[
        str, typer.Option(help="Marker after the block, before the response.")
    ] = "<SOS>",
    line: Annotated[
        str, typer.Option(help="One reward line; {Name}, {name}, {value}.")
    ] = "{Name} reward: {value}",
    decimals: Annotated[int, typer.Option(help="Decimals of each reward.")] = 2,
    format: Annotated[str, typer.Option(help="prompt-completion or openai.")] = "prompt-completion",
    splits: SplitsOption = None,
    seed: SeedOption = 0,
    license_: LicenseOption = None,
    json_: JsonOption = False,
) -> None:
    """Rows for reward-conditioned SFT: the prompt, a reward block, then the response."""
    from prefsmith.flows.runner import run_flow
    from prefsmith.schemas.config import RewardInPromptBuildConfig, validate

    options = _build_options(name, splits, seed, license_) | {
        "rewards": parse_pairs(rewards, "--rewards")
    }
    options |= {"normalize": normalize, "open_tag": open_tag, "start_tag": start_tag, "line": line}
    options |= {"decimals": decimals, "format": format}
    config = validate(
        RewardInPromptBuildConfig, {k: v for k, v in options.items() if v is not None}
    )
    require_store(store)
    summary = run_flow(
        "prefsmith.flows.build:build_reward_in_prompt_flow", store=store, **config.model_dump()
    )
    emit(summary, json_, f"build reward-in-prompt -> {summary['path']}")


@build_app.command("token-rewards")
@user_errors
def build_token_rewards(
    tokenizer: Annotated[str, typer.Option(help="Tokenizer (Hub id or folder) of the policy.")],
    store: StoreOption = "prefsmith-store",
    from_: Annotated[str, typer.Option("--from", help="The critic labeler.")] = "critic",
    name: NameOption = "token-rewards",
    positive: Annotated[float, typer.Option(help="Reward of a token in a good span.")] = 1.0,
    negative: Annotated[float, typer.Option(help="Reward of a token in a bad span.")] = -1.0,
    threshold: Annotated[
        float, typer.Option(help="Share of a token's characters a span must cover.")
    ] = 0.5,
    scalar_from: Annotated[
        str | None, typer.Option(help="A score labeler added at the last token.")
    ] = None,
    splits: SplitsOption = None,
    seed: SeedOption = 0,
    license_: LicenseOption = None,
    json_: JsonOption = False,
) -> None:
    """Dense rewards: the critic's spans as one reward per response token."""
    from prefsmith.flows.runner import run_flow
    from prefsmith.schemas.config import TokenRewardsBuildConfig, validate

    options = _build_options(name, splits, seed, license_) | {
        "tokenizer": tokenizer,
        "from_labeler": from_,
        "positive_reward_value": positive,
        "negative_reward_value": negative,
        "intrinsic_reward_threshold": threshold,
        "scalar_from": scalar_from,
    }
    config = validate(TokenRewardsBuildConfig, {k: v for k, v in options.items() if v is not None})
    require_store(store)
    summary = run_flow(
        "prefsmith.flows.build:build_token_rewards_flow", store=store, **config.model_dump()
    )
    emit(summary, json_, f"build token-rewards -> {summary['path']}")


@user_errors
def prompt(
    text: Annotated[str, typer.Argument(help="The user's message.")],
    dataset: Annotated[str, typer.Option(help="A reward-in-prompt dataset of the store.")],
    target: Annotated[str, typer.Option(help="Target rewards, e.g. helpful=0.9,harmless=0.8.")],
    store: StoreOption = "prefsmith-store",
    raw: Annotated[
        bool, typer.Option(help="Targets are raw scores: normalise them as the dataset did.")
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Render an inference prompt exactly as the reward-in-prompt dataset renders its rows."""
    from prefsmith.flows.builders import load_manifest
    from prefsmith.flows.store import Store
    from prefsmith.schemas.reward_prompt import (
        Normalizer,
        RewardTemplate,
        parse_targets,
        render_prompt,
    )

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


@user_errors
def export(
    dataset: Annotated[str, typer.Option(help="A dataset of the store.")],
    to: Annotated[str, typer.Option(help="A new folder, or hub://ORG/NAME.")],
    store: StoreOption = "prefsmith-store",
    private: Annotated[bool, typer.Option("--private/--public", help="Hub visibility.")] = True,
    token_secret: Annotated[
        str | None, typer.Option(help="Prefect Secret block holding the Hub token (else HF_TOKEN).")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Write a dataset in the Hub layout to a folder, or push it to the Hub in one commit."""
    from prefsmith.flows.export import check_export
    from prefsmith.flows.runner import run_flow
    from prefsmith.flows.store import Store

    check_export(Store(store), dataset, to)
    summary = run_flow(
        "prefsmith.flows.export:export_dataset",
        store=store,
        dataset=dataset,
        to=to,
        private=private,
        token_secret=token_secret,
    )
    emit(summary, json_, f"export {dataset}")
