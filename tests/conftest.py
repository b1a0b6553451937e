"""Shared fixtures. Every test runs with project data, caches and Prefect results in a
temporary folder, so nothing from a developer's runs leaks in and nothing leaks out."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="ufo-tests-"))
# Set before Prefect is imported anywhere: result storage is not isolated by the harness.
os.environ["UFO_DATA_DIR"] = str(_SESSION_DIR / "data")
os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] = str(_SESSION_DIR / "prefect-results")
os.environ["UFO_RESULTS_DIR"] = str(_SESSION_DIR / "prefect-results")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")

from tasks.paths import shared_train_path  # noqa: E402  (after UFO_DATA_DIR is set)

SHARED_TRAIN = shared_train_path()


def _interrupt(signum, _frame):
    raise KeyboardInterrupt(f"pytest received {signal.Signals(signum).name}")


def pytest_configure(config):
    """SIGTERM (a CI job's timeout, `kill`) interrupts the session as Ctrl-C does, and pytest
    then tears its fixtures down: the e2e stack's server, deployments and Dask processes
    are stopped instead of left running. (SIGKILL cannot be caught.)"""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)


def require_shared_train() -> Path:
    """The real training file; required under CI=true, skipped with a reason elsewhere."""
    if SHARED_TRAIN.is_file():
        return SHARED_TRAIN
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but the real training file is missing at {SHARED_TRAIN}")
    pytest.skip(
        f"real training file not found at {SHARED_TRAIN} (../shared/data beside the project)"
    )


@pytest.fixture
def stop_request():
    """What the `ufo` command's Ctrl-C handler calls (tasks/cancellation.py), for a test to
    call at the moment it chooses; the flag is cleared before and after the test, so a stop
    never leaks into another test."""
    from tasks import cancellation

    cancellation.reset()
    yield cancellation.request
    cancellation.reset()


@pytest.fixture
def shared_train() -> Path:
    return require_shared_train()


@pytest.fixture(scope="session")
def prefect_harness():
    """A temporary Prefect API (about 20 s to start here); only flow tests use it."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield
