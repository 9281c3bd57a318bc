"""`prefsmith prefect status|stop`: the local Prefect server that commands share."""

from __future__ import annotations

import typer

from prefsmith.cli.common import JsonOption, emit, user_errors

prefect_app = typer.Typer(
    help="The local Prefect server every command runs its flows on (started on demand).",
    no_args_is_help=True,
)


def _home():
    from prefsmith.runtime import prefect_env

    prefect_env.configure_prefect()
    return prefect_env.defaulted_home()


@prefect_app.command("status")
@user_errors
def status(json_: JsonOption = False) -> None:
    """Where runs go: the local server's UI, or the Prefect API you configured."""
    import os

    from prefsmith.runtime.prefect_server import running_server

    home = _home()
    if home is None:
        summary = {"server": "yours", "api": os.environ.get("PREFECT_API_URL", "ephemeral")}
    else:
        found = running_server(home)
        summary = {"server": "local", "running": found is not None, "home": str(home)}
        if found:
            summary |= {"ui": found.ui, "pid": found.pid}
    emit(summary, json_, "prefect")


@prefect_app.command("stop")
@user_errors
def stop(json_: JsonOption = False) -> None:
    """Stop the local server and the warm runners (the next command starts them again; runs
    stay in the server's database)."""
    import os

    from prefsmith.cli.warm_key import stop_runners
    from prefsmith.runtime.prefect_server import running_server, stop_server

    home = _home()
    found = running_server(home) if home is not None else None
    api = found.url if found else os.environ.get("PREFECT_API_URL")
    runners = stop_runners(api) if api else 0
    stopped = stop_server(home) if home is not None else None
    summary = {"stopped": stopped is not None, **({"pid": stopped.pid} if stopped else {})}
    emit({**summary, "warm_runners_stopped": runners}, json_, "prefect")
