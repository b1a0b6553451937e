"""Rerun a failed run: only the failed fit and what depends on it run again; the other
seven fits (and the eight holdout evaluations) come back Cached from persisted results."""

from __future__ import annotations

import pytest

from schemas.search_space import TASKS
from tests.e2e.stack import (
    BIN,
    FIT_NAMES,
    cli_run,
    flow_run_id,
    make_inputs,
    wait_for_flow_run,
    wait_for_logs,
    wait_for_states,
    wait_for_task_runs,
)

pytestmark = pytest.mark.slow
DOWNSTREAM = ("assemble-submission", "check-submission", "write-submission", "publish-summary")
HOLDOUTS = tuple(name.replace("fit-", "holdout-", 1) for name in FIT_NAMES)
RERUN_STEPS = (*FIT_NAMES, *HOLDOUTS, *DOWNSTREAM)  # what a successful rerun must record


@pytest.fixture(scope="module")
def inputs(stack, tmp_path_factory):
    folder = tmp_path_factory.mktemp("rerun")
    train, test = make_inputs(stack, folder / "inputs", seed=21)
    return folder, train, test


def _trigger(stack, train, test, out, fault, refit=False, deployment="ufo-pipeline/demo"):
    """A deployment with the ridge predictor and a fault to inject, watched. `refit`
    recomputes fits an earlier test may have cached, so the fault can fire."""
    return stack.deployment_run(
        deployment,
        f"train={train}",
        f"test={test}",
        f"out={out}",
        "predictor=ridge",
        f"refit={str(refit).lower()}",
        *([f"fault={fault}"] if fault else []),
    )


def _trigger_failing(stack, train, test, out, fault, deployment="ufo-pipeline/demo"):
    done = _trigger(stack, train, test, out, fault, refit=True, deployment=deployment)
    assert done.returncode == 1, done.stdout + done.stderr
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert run.state.is_failed()
    return run


def _short(states: dict[str, str]) -> dict[str, str]:
    """Drop the random suffix Prefect gives unnamed task runs (assemble-submission-3f2)."""
    out = {}
    for name, state in states.items():
        base = name.rsplit("-", 1)[0] if name.startswith(DOWNSTREAM) else name
        out[base] = state
    return out


def _assert_first_attempt(stack, run, failed_fit):
    # Wait until every fit is recorded final; only then is "nothing downstream ran" meaningful.
    runs = {r.name: r for r in wait_for_task_runs(stack, run.id, FIT_NAMES, attempt=1)}
    assert runs[failed_fit].state.name == "Failed"
    assert runs[failed_fit].run_count == 3, "two task retries before giving up"
    assert "injected fault" in runs[failed_fit].state.message
    states = _short({name: (r.state.name if r.state else None) for name, r in runs.items()})
    assert {n: states[n] for n in FIT_NAMES if n != failed_fit} == {
        n: "Completed" for n in FIT_NAMES if n != failed_fit
    }
    assert not any(name.startswith(DOWNSTREAM) for name in states), (
        "nothing downstream of a failed fit ran"
    )


def _assert_only_failed_fit_recomputed(states, failed_fit):
    states = _short(states)
    fits = {n: states[n] for n in FIT_NAMES}
    assert fits == {n: ("Completed" if n == failed_fit else "Cached") for n in FIT_NAMES}, fits
    holdouts = {n: s for n, s in states.items() if n.startswith("holdout-")}
    assert len(holdouts) == len(TASKS) and set(holdouts.values()) == {"Cached"}, holdouts
    assert {states[n] for n in DOWNSTREAM} == {"Completed"}


def test_retry_of_a_failed_flow_run_recomputes_only_the_failed_fit(stack, inputs):
    folder, train, test = inputs
    clean, _ = cli_run(stack, folder / "clean", train, test, predictor="ridge")
    out = folder / "retried.json"
    run = _trigger_failing(stack, train, test, out, fault="fit:vehicleid")
    _assert_first_attempt(stack, run, "fit-vehicleid")
    assert not out.exists()

    retried = stack.run(str(BIN / "prefect"), "flow-run", "retry", str(run.id))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    run = wait_for_flow_run(stack, run.id, min_run_count=2)
    assert run.state.name == "Completed", run.state.message
    states = wait_for_states(stack, run.id, attempt=2, final=RERUN_STEPS)
    _assert_only_failed_fit_recomputed(states, "fit-vehicleid")
    # "cache hit": the Parquet encodings were reused too.
    wait_for_logs(stack, run.id, contains=("cache hit", "Finished in state Cached"))
    assert out.read_bytes() == clean.read_bytes()

    # Every fit is cached now; refit=true recomputes them all, and the bytes do not change.
    done = _trigger(stack, train, test, out, fault=None, refit=True)
    assert done.returncode == 0, done.stdout + done.stderr
    refitted = wait_for_flow_run(stack, flow_run_id(done.stdout))
    states = _short(wait_for_states(stack, refitted.id, attempt=1, final=RERUN_STEPS))
    assert {states[n] for n in (*FIT_NAMES, *HOLDOUTS)} == {"Completed"}, states
    assert out.read_bytes() == clean.read_bytes()


def test_triggering_again_reuses_the_finished_fits(stack, tmp_path):
    # Inputs of its own: a fit cached by another test would come back Cached and not fail.
    train, test = make_inputs(stack, tmp_path / "inputs", seed=22)
    clean, _ = cli_run(stack, tmp_path / "clean", train, test, predictor="ridge")
    out = tmp_path / "retriggered.json"
    failed = _trigger_failing(stack, train, test, out, fault="fit:sop")
    _assert_first_attempt(stack, failed, "fit-sop")

    done = _trigger(stack, train, test, out, fault="fit:sop")
    assert done.returncode == 0, done.stdout + done.stderr
    again = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert again.id != failed.id and again.name == failed.name  # same inputs, same run name
    states = wait_for_states(stack, again.id, attempt=1, final=RERUN_STEPS)
    _assert_only_failed_fit_recomputed(states, "fit-sop")
    assert out.read_bytes() == clean.read_bytes()


def test_retry_on_a_dask_cluster_without_shared_disk_recomputes_only_the_failed_fit(stack, inputs):
    """The same rerun through `ufo-pipeline/dask`: the fits run on workers that cannot see
    the flow's disk (tests/e2e/conftest.py), and persist their results on their own."""
    folder, train, test = inputs
    clean, _ = cli_run(stack, folder / "clean-dask", train, test, predictor="ridge")
    out = folder / "retried-dask.json"
    run = _trigger_failing(stack, train, test, out, "fit:veri", deployment="ufo-pipeline/dask")
    _assert_first_attempt(stack, run, "fit-veri")

    retried = stack.run(str(BIN / "prefect"), "flow-run", "retry", str(run.id))
    assert retried.returncode == 0, retried.stdout + retried.stderr
    run = wait_for_flow_run(stack, run.id, min_run_count=2)
    assert run.state.name == "Completed", run.state.message
    states = wait_for_states(stack, run.id, attempt=2, final=RERUN_STEPS)
    _assert_only_failed_fit_recomputed(states, "fit-veri")
    assert out.read_bytes() == clean.read_bytes()
