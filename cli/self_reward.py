"""`prefsmith self-reward`: the self-rewarding loop from the command line. Its options are the
fields of `SelfRewardConfig` (a run config's `self_reward:`); DPO settings go through
`--set KEY=VALUE` and `--config FILE`, as for `prefsmith train`."""

from __future__ import annotations

import inspect
from typing import Any

from prefsmith.cli.common import common_parameters, emit, require_store, user_errors
from prefsmith.cli.model_options import option_parameters, validate_options, with_parameters
from prefsmith.cli.train import ConfigOption, SetOption, trl_settings
from prefsmith.schemas.self_reward import SelfRewardConfig

PARAMETERS = [
    *option_parameters(SelfRewardConfig, skip=("settings",)),
    inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=ConfigOption),
    inspect.Parameter("set_", inspect.Parameter.KEYWORD_ONLY, default=None,
                      annotation=SetOption),
    *common_parameters(store=True, json_=True),
]  # fmt: skip


@with_parameters(PARAMETERS)
@user_errors
def self_reward(
    store: str, json_: bool, config: str | None, set_: list[str] | None, **values: Any
) -> None:
    """Self-rewarding iterations: the policy answers, grades its own answers, DPO trains the
    next policy; finished iterations are skipped on a rerun."""
    from pathlib import Path

    from prefsmith.cli.runner import flow_session
    from prefsmith.endpoints.weights import check_weights
    from prefsmith.flows import self_reward as self_reward_flows
    from prefsmith.schemas.errors import UserError

    settings = validate_options(SelfRewardConfig, values)
    settings["settings"] = trl_settings(config, set_)
    loop = SelfRewardConfig.model_validate(settings)
    require_store(store)
    if loop.policy:
        check_weights(loop.policy)
    if loop.judge_template and not Path(loop.judge_template).is_file():
        raise UserError(f"--judge-template: no such file {loop.judge_template}")
    with flow_session() as session:
        summary = session.result(
            self_reward_flows.self_reward(store=store, config=settings, return_state=True)
        )
    if not json_:  # one row per iteration is the report's job; the table gets the counts
        records = summary["iterations"]
        summary = {**summary, "iterations": len(records)}
        summary["cached"] = sum(bool(record.get("cached")) for record in records)
    emit(summary, json_, f"self-reward -> {summary['output']}")
