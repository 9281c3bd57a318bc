"""Running a flow from the CLI: import it late, and keep user mistakes to one line.

Prefect logs a failed run's traceback; for a UserError (bad input, not a bug)
that traceback is noise, so the console handler drops it while the run is
still recorded as Failed with the message, in the UI and the API.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from prefsmith.schemas.errors import UserError

if TYPE_CHECKING:
    from prefect.client.schemas.objects import State


def _kinds_of(error_class: type) -> set[str]:
    """The class's name and those of its subclasses (EndpointRefused is a UserError)."""
    return {error_class.__name__}.union(*(_kinds_of(sub) for sub in error_class.__subclasses__()))


class _HideUserErrorTracebacks(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, UserError):
            return False
        message = record.getMessage()
        if "UserError" in message:
            return False
        return not any(f"exception {kind}:" in message for kind in _kinds_of(UserError))


@contextmanager
def _quiet_user_errors() -> Iterator[None]:
    # Prefect's console handler hangs on the root logger (prefect/logging/logging.yml).
    handlers = [*logging.getLogger().handlers, *logging.getLogger("prefect").handlers]
    hide = _HideUserErrorTracebacks()
    for handler in handlers:
        handler.addFilter(hide)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(hide)


@contextmanager
def _api_url(url: str | None) -> Iterator[None]:
    """Runs go to `url` even when Prefect was imported (and read its settings) before the
    local server was found: a command's pre-flight checks may import a flow module."""
    if url is None:
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: url}):
        yield


@dataclass
class FlowSession:
    """Where a CLI command calls its flow (`flow_session`); `result(state)` is the run's result."""

    started: float

    def result(self, state: State) -> Any:
        """The flow's result, or its exception raised again. A summary's `seconds` becomes
        the wall time of the whole command, Prefect's start-up included: what the user waited
        for."""
        result = state.result(raise_on_failure=False)
        if isinstance(result, BaseException):
            raise result
        if isinstance(result, dict) and "seconds" in result:
            result["seconds"] = round(time.perf_counter() - self.started, 3)
        return result


@contextmanager
def flow_session() -> Iterator[FlowSession]:
    """Run flows against the local Prefect server (started when needed), with a user mistake
    kept to one line. The flow is called by name inside, so a reader (or go-to-definition)
    goes from the command to the flow:

        from prefsmith.flows import label as label_flows

        with flow_session() as session:
            summary = session.result(
                label_flows.label(store=store, config=settings, return_state=True)
            )
    """
    from prefsmith.cli.warm_key import start_in_background
    from prefsmith.runtime.prefect_env import original_env, use_local_server

    session = FlowSession(time.perf_counter())
    api = use_local_server()
    if (env := original_env()) is not None:  # where runs go to an API: next commands run warm
        start_in_background(env)
    with _api_url(api), _quiet_user_errors():
        yield session
