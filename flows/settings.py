"""Prefect settings this project needs, applied before Prefect is imported."""

from __future__ import annotations

import os

from tasks import paths

# On a 2-core machine the ephemeral API server can take over a minute to start the first
# time; analytics would try DNS lookups on a machine without internet.
_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    # Our plain functions log with `logging` (fit times, Kendall tau per task): send those
    # records to the run logs in the dashboard too (tasks/steps/ sets INFO).
    "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks",
}


def configure_prefect_environment() -> None:
    """Set defaults without overriding what the user has set."""
    for name, value in _DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Completed task results persist here so a retried run reuses them.
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(paths.results_dir()))


class _DropTracebackFor:
    """Logging filter: keep the message, drop the traceback, for errors the user caused
    (the CLI prints those as one paragraph; a stack trace would only hide the point)."""

    def __init__(self, error_types: tuple[type[BaseException], ...]):
        self.error_types = error_types

    def filter(self, record) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], self.error_types):
            record.exc_info = None
            record.exc_text = None
        return True


def quiet_tracebacks_for(error_types: tuple[type[BaseException], ...]) -> None:
    import logging

    for name in (
        "prefect.task_runs",
        "prefect.flow_runs",
        "prefect.flow_engine",
        "prefect.task_engine",
    ):
        logging.getLogger(name).addFilter(_DropTracebackFor(error_types))
