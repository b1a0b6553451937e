"""Dask: the flow on a real `dask scheduler` + `dask worker` pair on loopback (started by the
session fixture, in a mount namespace that hides the flow's disk) writes the same
submission bytes as the default thread runner; a worker started with no Prefect API of its
own reports to the flow's server and never starts one."""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.stack import (
    FIT_NAMES,
    cli_run,
    flow_run_id,
    make_inputs,
    start_dask,
    stop,
    wait_for_flow_run,
    wait_for_states,
    wait_for_task_runs,
)

pytestmark = pytest.mark.slow


def _scheduler_transitions(address: str) -> int:
    from distributed import Client

    with Client(address, timeout=30) as client:
        return client.run_on_scheduler(lambda dask_scheduler: dask_scheduler.transition_counter)


def _assert_fits_computed(stack, run_id):
    states = wait_for_states(stack, run_id, attempt=1, final=FIT_NAMES)
    assert {n: states[n] for n in FIT_NAMES} == dict.fromkeys(FIT_NAMES, "Completed")


@pytest.fixture(scope="module")
def reference(stack, tmp_path_factory):
    """Inputs no other test uses (so nothing is cached for them) and their threads submission."""
    folder = tmp_path_factory.mktemp("dask")
    train, test = make_inputs(stack, folder / "inputs", seed=31)
    threads, _ = cli_run(stack, folder / "threads", train, test)
    return train, test, threads


def test_the_workers_cannot_see_the_flows_disk(stack, reference):
    """The premise of the tests below: inputs, caches and results exist only on the
    flow's side (tests/e2e/conftest.py hides them from the workers)."""
    from distributed import Client

    train, test, threads = reference
    visible = [str(train), str(test), str(threads), str(stack.data_dir / "demo")]
    assert all(Path(p).exists() for p in visible)
    with Client(stack.dask_address, timeout=30) as client:
        seen = client.run(lambda paths: [os.path.exists(p) for p in paths], visible)
    assert len(seen) == 2 and all(v == [False] * len(visible) for v in seen.values()), seen


def test_ufo_run_on_an_external_dask_scheduler_matches_threads(stack, reference, tmp_path):
    train, test, threads = reference
    before = _scheduler_transitions(stack.dask_address)
    on_dask, run_id = cli_run(stack, tmp_path / "dask", train, test, runner=stack.dask_address)
    # 8 fits + 8 holdouts + the other steps, each through several scheduler states.
    assert _scheduler_transitions(stack.dask_address) - before >= 3 * 16
    _assert_fits_computed(stack, run_id)
    assert on_dask.read_bytes() == threads.read_bytes()


def test_dask_deployment_runs_on_the_cluster_and_matches_threads(stack, reference, tmp_path):
    # The served deployment keeps its results apart from the CLI runs: its fits are computed.
    train, test, threads = reference
    out = tmp_path / "dask-deployment.json"
    before = _scheduler_transitions(stack.dask_address)
    done = stack.deployment_run("ufo-pipeline/dask", f"train={train}", f"test={test}", f"out={out}")
    assert done.returncode == 0, done.stdout + done.stderr
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert _scheduler_transitions(stack.dask_address) - before >= 3 * 16
    _assert_fits_computed(stack, run.id)
    assert out.read_bytes() == threads.read_bytes()


@pytest.fixture
def bare_dask(stack, tmp_path):
    """A scheduler and one worker process of their own, started with no Prefect API in their
    environment: no PREFECT_API_URL, no credential, ephemeral mode left on (Prefect's
    default), and a PREFECT_HOME of their own (where a server started by mistake would keep
    its database). Yields the scheduler's address and the `dask worker` process."""
    env = {
        k: v
        for k, v in stack.env.items()
        if k
        not in ("PREFECT_API_URL", "PREFECT_API_AUTH_STRING", "PREFECT_SERVER_ALLOW_EPHEMERAL_MODE")
    }
    env["PREFECT_HOME"] = str(tmp_path / "worker-prefect-home")
    address, processes = start_dask(tmp_path, env, nworkers=1)
    try:
        yield address, processes[1]
    finally:
        for process in reversed(processes):
            stop(process)


@contextmanager
def descendants_seen(pid: int, interval: float = 0.1):
    """While the block runs, poll every descendant of `pid` in a thread; yields pid -> every
    command line seen for it (a child is first seen with its parent's, before its exec)."""
    import psutil

    seen: dict[int, set[str]] = {}
    done = threading.Event()

    def poll() -> None:
        root = psutil.Process(pid)
        while not done.is_set():
            for child in root.children(recursive=True):
                try:
                    seen.setdefault(child.pid, set()).add(" ".join(child.cmdline()))
                except psutil.Error:  # it ended between listing and reading
                    pass
            done.wait(interval)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        yield seen
    finally:
        done.set()
        poller.join()


def _is_prefect_server(command: str) -> bool:
    """Prefect's temporary server and ufo's both run under uvicorn; `prefect server start`."""
    return "uvicorn" in command or "prefect server" in command or "prefect.server" in command


def test_a_worker_without_an_api_of_its_own_reports_to_the_flows_server_and_starts_none(
    stack, bare_dask, tmp_path
):
    from distributed import Client

    address, worker = bare_dask
    train, test = make_inputs(stack, tmp_path / "inputs", seed=47)

    def prefect_outside_a_task():
        """Prefect code on a worker outside any task's context: it sees the worker's own
        settings, and an event emitted there, with no API URL, starts a server (Prefect
        3.9.1 does so even with ephemeral mode off)."""
        from prefect.events import emit_event
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        emit_event(event="ufo.test.outside-a-task", resource={"prefect.resource.id": "ufo.test"})
        return settings.api.url, settings.server.ephemeral.enabled

    with descendants_seen(worker.pid) as seen:
        _, run_id = cli_run(stack, tmp_path / "run", train, test, runner=address)
        with Client(address, timeout=30) as client:
            outside = client.run(prefect_outside_a_task)
    assert worker.poll() is None, "the worker ended during the run"
    commands = [command for commands in seen.values() for command in commands]
    assert any("multiprocessing" in c for c in commands), seen  # its worker process was seen
    assert not [c for c in commands if _is_prefect_server(c)], seen
    assert list(outside.values()) == [(stack.api_url, False)]

    # The fits ran on this worker and were recorded by the flow's server.
    assert _scheduler_transitions(address) >= 3 * 16
    runs = wait_for_task_runs(stack, run_id, FIT_NAMES, attempt=1)
    fits = {r.name: r.state.name for r in runs if r.name.startswith("fit-")}
    assert fits == dict.fromkeys(FIT_NAMES, "Completed")
