"""The test session's own behaviour (tests/conftest.py): a SIGTERM to pytest still tears
its fixtures down, so what they started (the e2e stack) does not outlive it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.processes import alive

PROJECT_ROOT = Path(__file__).resolve().parents[1]

VICTIM = """
import subprocess, time
from pathlib import Path
import pytest

@pytest.fixture(scope="session")
def child():
    process = subprocess.Popen(["sleep", "600"], start_new_session=True)
    Path(__file__).with_name("child.pid").write_text(str(process.pid))
    yield
    process.kill()
    process.wait()

def test_waits(child):
    time.sleep(600)
"""


def test_sigterm_to_pytest_still_tears_the_fixtures_down(tmp_path):
    (tmp_path / "test_victim.py").write_text(VICTIM)
    session = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         str(tmp_path / "test_victim.py")],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    pid_file = tmp_path / "child.pid"
    child = None
    try:
        deadline = time.monotonic() + 120
        while not pid_file.exists():
            assert session.poll() is None and time.monotonic() < deadline, session.stdout.read()
            time.sleep(0.1)
        child = int(pid_file.read_text())
        time.sleep(0.5)  # inside the test's sleep
        session.send_signal(signal.SIGTERM)
        output, _ = session.communicate(timeout=120)
        assert session.returncode == 2, output  # pytest's "interrupted"
        assert "received SIGTERM" in output
        assert not alive(child), "the fixture's teardown did not run"
    finally:
        if session.poll() is None:
            session.kill()
        if child is not None and alive(child):
            os.kill(child, signal.SIGKILL)
