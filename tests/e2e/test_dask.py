"""Dask: the flow on a real `dask scheduler` + `dask worker` pair on loopback (started by the
session fixture, in a mount namespace that hides the flow's disk) writes the same
submission bytes as the default thread runner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.stack import (
    FIT_NAMES,
    cli_run,
    flow_run_id,
    make_inputs,
    wait_for_flow_run,
    wait_for_states,
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
