"""Ctrl-C stops `ufo search` in its search loop: a real `ufo` process, a real SIGINT to its
process group (as a terminal sends it), exit 130 with one line, no traceback, no report
half-written and no process of ours left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train
from tests.flows.test_lifetime import _descendants
from tests.processes import alive

pytestmark = pytest.mark.slow
UFO = Path(sys.executable).parent / "ufo"


def _wait_for_line(process: subprocess.Popen, needle: str, timeout: float) -> list[str]:
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if needle in line:
            return lines
    raise AssertionError(f"no {needle!r} line within {timeout} s:\n{''.join(lines)}")


def test_ctrl_c_in_the_search_loop_ends_the_command(tmp_path):
    train = tmp_path / "train.json"
    write_competition_file(train, frame_to_records(make_demo_train(120, seed=3)))
    out = tmp_path / "report"
    env = {
        **os.environ,
        "UFO_DATA_DIR": str(tmp_path / "data"),
        "PREFECT_HOME": str(tmp_path / "home"),
    }
    env.pop("PREFECT_API_URL", None)
    process = subprocess.Popen(
        [str(UFO), "search", "--train", str(train), "--predictor", "kernel_ridge",
         "--budget", "params=70M", "--max-evals", "3000000", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_line(process, "search (front)", timeout=240)
        ours = _descendants(process.pid)
        os.killpg(process.pid, signal.SIGINT)
        code = process.wait(timeout=15)  # not the hours 3,000,000 evaluations would take
        stderr = process.stderr.read()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert code == 130, stderr
    assert stderr.count("ufo: interrupted") == 1 and "Traceback" not in stderr, stderr
    assert not (out / "picks.json").exists() and not list(out.glob(".staging-*"))
    deadline = time.monotonic() + 10  # the server gets SIGTERM when we die
    while any(alive(pid) for pid in ours) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in ours if alive(pid)]
