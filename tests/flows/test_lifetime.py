"""A killed `ufo run` leaves nothing of the project behind: its temporary Prefect server
goes with it. Real processes, real signals."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.factories import some_archs, train_records, unlabelled_records, write_json
from tests.processes import alive

pytestmark = pytest.mark.slow
UFO = Path(sys.executable).parent / "ufo"


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lifetime")
    train = write_json(folder / "train.json", train_records(some_archs(60)))
    test = write_json(folder / "test.json", unlabelled_records(some_archs(100, seed=1)))
    return folder, train, test


@pytest.mark.parametrize(
    ("sig", "runner", "wait_for"),
    [
        (signal.SIGKILL, "threads", ("uvicorn",)),
        (signal.SIGTERM, "threads", ("uvicorn",)),
        (signal.SIGINT, "threads", ("uvicorn",)),
        # the local Dask cluster's two worker processes too
        (signal.SIGKILL, "dask", ("uvicorn", "spawn_main", "spawn_main")),
    ],
)
def test_killing_ufo_run_leaves_nothing_behind(inputs, tmp_path, sig, runner, wait_for):
    folder, train, test = inputs
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), UFO_DATA_DIR=str(tmp_path / "data"))
    out = tmp_path / "s.json"
    cli = subprocess.Popen(
        [UFO, "run", "--train", train, "--test", test, "--out", out, "--runner", runner],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    everything: set[int] = set()
    try:
        deadline = time.monotonic() + 300  # generous: a loaded 2-core machine starts slowly
        # The temporary API server (a uvicorn child of the CLI), and Dask's workers.
        while True:
            assert cli.poll() is None and time.monotonic() < deadline, f"no {wait_for}"
            lines = [_cmdline(p) for p in _descendants(cli.pid)]
            if all(sum(w in line for line in lines) >= wait_for.count(w) for w in wait_for):
                break
            time.sleep(0.2)
        time.sleep(1)
        everything = _descendants(cli.pid)
        os.kill(cli.pid, sig)
        cli.wait(120)  # a loaded 2-core machine shuts down slowly
        deadline = time.monotonic() + 60
        while any(alive(p) for p in everything) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = {p: _cmdline(p) for p in everything if alive(p)}
        assert not left, f"left running after {sig.name}: {left}"
    finally:
        if cli.poll() is None:
            cli.kill()
        for pid in everything:  # a failed test must not leave them either
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


_START_SCRIPT = """
import json, os, subprocess, sys, threading, urllib.request
from flows.settings import configure_prefect_environment
configure_prefect_environment()
from flows.lifetime import start_temporary_server_tied_to_us
from prefect.settings import get_current_settings
server = start_temporary_server_tied_to_us()
seen = {}
thread = threading.Thread(target=lambda: seen.update(thread=get_current_settings().api.url))
thread.start()
thread.join()
child = [sys.executable, "-c", "import os; print(os.environ.get('PREFECT_API_URL'))"]
with urllib.request.urlopen(server.api_url + "/health", timeout=10) as reply:
    health = reply.status
print(json.dumps({
    "url": server.api_url, "pid": server.process.pid, "health": health,
    "main": get_current_settings().api.url, "thread": seen["thread"],
    "child": subprocess.run(child, capture_output=True, text=True).stdout.strip(),
}))
"""


def test_the_temporary_server_serves_this_process_its_threads_and_children(tmp_path):
    """Started by hand: PREFECT_API_URL points at it in this process, in a thread started
    later and in a child process; a normal exit stops it before the process ends."""
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(tmp_path / "home"), UFO_DATA_DIR=str(tmp_path / "data"))
    # Output to files, not pipes: the server inherits them, and waiting for a pipe's end
    # would wait for the server too.
    out, err = tmp_path / "out", tmp_path / "err"
    with out.open("w") as stdout, err.open("w") as stderr:
        script = subprocess.Popen(
            [sys.executable, "-c", _START_SCRIPT], env=env, stdout=stdout, stderr=stderr
        )
        assert script.wait(300) == 0, err.read_text()
    seen = json.loads(out.read_text().splitlines()[-1])
    assert seen["health"] == 200 and seen["url"].startswith("http://127.0.0.1:")
    assert seen["main"] == seen["thread"] == seen["child"] == seen["url"]
    assert not alive(seen["pid"]), "the server outlived the exit (stopped only by PDEATHSIG?)"


def test_a_user_api_url_means_no_temporary_server(monkeypatch):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.lifetime import start_temporary_server_tied_to_us

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:1/api"}):
        assert start_temporary_server_tied_to_us() is None
    assert "PREFECT_API_URL" not in os.environ
