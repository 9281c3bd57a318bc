"""Prefect defaults for a process that starts flows: called by the CLI's entry point (and
the benchmarks), never at import, so reading the store or a labeler has no side effects.

A machine with no Prefect configuration gets a local API with its database under the
user's data directory and analytics off. A user who has configured Prefect
(`PREFECT_API_URL`, `PREFECT_HOME` or a profile in ~/.prefect) keeps their settings and sees
every run in their server's UI.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

SERVER_SWITCH = "PREFSMITH_PREFECT_SERVER"  # "off": Prefect's ephemeral mode per process
_defaulted_home: Path | None = None  # set when the defaults below chose PREFECT_HOME
_original_env: dict[str, str] | None = None  # the environment before the defaults


def prefect_configured() -> bool:
    """True when the user chose where Prefect keeps its runs."""
    return (
        "PREFECT_API_URL" in os.environ
        or "PREFECT_HOME" in os.environ
        or (Path.home() / ".prefect" / "profiles.toml").exists()
    )


def configure_prefect() -> None:
    """Set Prefect's defaults in this process's environment (before Prefect is imported)."""
    global _defaulted_home, _original_env
    if _original_env is None:
        _original_env = dict(os.environ)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    if not prefect_configured():
        from platformdirs import user_data_dir

        home = Path(user_data_dir("prefsmith")) / "prefect"
        home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level
        os.environ["PREFECT_HOME"] = str(home)
        _defaulted_home = home
    # The first flow of a process starts a temporary API server; slow CI machines need > 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


def forget() -> None:
    """Forget what `configure_prefect` saw: a process forked to run another command (the warm
    runner's child) configures Prefect again from that command's environment."""
    global _defaulted_home, _original_env
    _defaulted_home = _original_env = None


def defaulted_home() -> Path | None:
    """The PREFECT_HOME that `configure_prefect` chose, or None when the user chose theirs."""
    return _defaulted_home


def original_env() -> dict[str, str] | None:
    """This process's environment before `configure_prefect` set Prefect's defaults."""
    return _original_env


def use_local_server() -> str | None:
    """Before a flow starts: where the defaults chose Prefect's home (no Prefect configured),
    point this process at the local server, starting it the first time and printing its UI
    address then, and return its API URL; a user's own Prefect settings are left alone (None).
    Prefect reads its settings when it is imported: a caller that may have imported it
    already runs its flow inside `prefect.settings.temporary_settings` with that URL."""
    if _defaulted_home is None or os.environ.get(SERVER_SWITCH, "on") == "off":
        return None
    from prefsmith.runtime.prefect_server import ensure_server

    try:
        server, started = ensure_server(_defaulted_home)
    except RuntimeError as error:  # the run still works, in ephemeral mode
        print(f"prefect: {error}; running without a server", file=sys.stderr)
        return None
    os.environ["PREFECT_API_URL"] = server.url
    if started:
        print(
            f"prefect: started a local server for every run: {server.ui} "
            "(`prefsmith prefect stop` stops it)",
            file=sys.stderr,
        )
    return server.url
