"""Prefect settings this project needs, applied before Prefect is imported."""

from __future__ import annotations

import os

from tasks import paths

# On a 2-core machine the ephemeral API server can take over a minute to start the first
# time; analytics would try DNS lookups on a machine without internet.
_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
}


def configure_prefect_environment() -> None:
    """Set defaults without overriding what the user has set."""
    for name, value in _DEFAULTS.items():
        os.environ.setdefault(name, value)
    # Completed task results persist here so a retried run reuses them.
    os.environ.setdefault("PREFECT_RESULTS_LOCAL_STORAGE_PATH", str(paths.results_dir()))
