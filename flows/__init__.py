"""Prefect flows, the store and the CLI: orchestration only.

Importing this package sets Prefect defaults for a machine with no Prefect
server: runs go to an ephemeral local API with its database under the user's
data directory, and analytics are off. A user who has configured Prefect
(`PREFECT_API_URL`, `PREFECT_HOME` or a profile in ~/.prefect) keeps their
settings and sees every run in their server's UI.
"""

import os
from pathlib import Path


def _prefect_defaults() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    configured = (
        "PREFECT_API_URL" in os.environ
        or "PREFECT_HOME" in os.environ
        or (Path.home() / ".prefect" / "profiles.toml").exists()
    )
    if not configured:
        from platformdirs import user_data_dir

        home = Path(user_data_dir("prefsmith")) / "prefect"
        home.mkdir(parents=True, exist_ok=True)  # Prefect creates only the last level
        os.environ["PREFECT_HOME"] = str(home)
    # The first flow of a process starts a temporary API server; slow CI machines need > 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")


_prefect_defaults()
