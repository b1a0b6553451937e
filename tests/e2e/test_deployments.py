"""Deployments triggered through the `prefect` CLI against the served stack; results read
back through the Prefect API."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.e2e.stack import (
    FIT_NAMES,
    artifacts,
    flow_run_id,
    log_text,
    make_inputs,
    task_runs,
    wait_for_flow_run,
)

pytestmark = pytest.mark.slow


def test_make_serve_registered_the_deployments_and_is_idempotent(stack):
    assert (
        "serving ufo-pipeline/demo, ufo-pipeline/competition, ufo-pipeline/dask"
        in stack.serve_output
    )
    again = stack.run("make", "serve", timeout=60)
    assert again.returncode == 0, again.stderr
    assert "Prefect server already running" in again.stdout
    assert "deployments already served" in again.stdout
    with stack.client() as client:
        competition = client.read_deployment_by_name("ufo-pipeline/competition")
        demo = client.read_deployment_by_name("ufo-pipeline/demo")
        dask = client.read_deployment_by_name("ufo-pipeline/dask")
    raw = stack.data_dir / "raw"
    assert competition.parameters["train"] == str(raw / "CCF_UFO_train.json")
    assert competition.parameters["test"] == str(raw / "CCF_UFO_test.json")
    assert competition.parameters["out"].endswith("CCF_UFO_submit.json")
    assert demo.parameters == {}
    assert stack.dask_address in dask.description


def test_demo_deployment_shows_every_step_artifact_and_figure(stack, demo_run):
    done, run, seconds = demo_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flow run finished successfully in 'Completed'." in done.stdout
    assert run.state.name == "Completed"
    assert run.name.startswith("ensemble-") and len(run.name) == len("ensemble-") + 8

    names = [r.name for r in task_runs(stack, run.id)]
    for expected in (
        "validate-train",
        "validate-test",
        "encode-train",
        "encode-test",
        *FIT_NAMES,
        "assemble-submission",
        "check-submission",
        "write-submission",
        "publish-summary",
    ):
        assert any(n == expected or n.startswith(expected + "-") for n in names), (
            f"{expected} not in {names}"
        )
    assert sorted(n for n in names if n.startswith("fit-")) == sorted(FIT_NAMES)
    assert any(n.startswith("check-parameters") for n in names)
    assert any(n.startswith("publish-evaluation") for n in names)

    submission = stack.data_dir / "submissions" / "demo_submission.json"
    body = submission.read_bytes()
    records = json.loads(body)
    assert len(records) == 300

    found = artifacts(stack, run.id)
    assert {
        "kendall-tau",
        "validation-train",
        "validation-test",
        "validation-submission",
        "run-summary",
    } <= set(found)
    tau_rows = json.loads(found["kendall-tau"].data)
    assert [row["task"] for row in tau_rows][-1] == "average" and len(tau_rows) == 9
    assert all(-1 <= row["kendall_tau"] <= 1 for row in tau_rows)
    summary = found["run-summary"].data
    assert str(submission) in summary
    assert f"{len(body)} bytes" in summary
    assert hashlib.sha256(body).hexdigest() in summary

    logs = log_text(stack, run.id)
    assert "read 200 entries" in logs and "read 300 entries" in logs
    assert "cache miss" in logs or "cache hit" in logs
    assert "Kendall tau" in logs
    assert "fitted ensemble on 200 archs in" in logs  # fit times, from tasks.fitting
    assert f"({len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:12]})" in logs


def test_competition_deployment_with_params(stack, tmp_path):
    train, test = make_inputs(stack, tmp_path / "inputs", seed=5)
    out = tmp_path / "submit.json"
    done = stack.deployment_run(
        "ufo-pipeline/competition",
        f"train={train}",
        f"test={test}",
        f"out={out}",
        "predictor=ridge",
        watch=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert run.state.name == "Completed", run.state.message
    assert run.parameters["predictor"] == "ridge" and run.name.startswith("ridge-")
    assert len(json.loads(out.read_bytes())) == 300


def test_bad_parameters_fail_at_once_with_a_clear_message(stack):
    # The competition defaults point at data/raw/, which is empty here; the predictor is unknown.
    done = stack.deployment_run("ufo-pipeline/competition", "predictor=nope", timeout=230)
    assert done.returncode == 1
    assert "Flow run finished in state 'Failed'." in done.stdout
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert run.state.is_failed()
    assert "CCF_UFO_train.json does not exist" in run.state.message
    assert "unknown predictor 'nope'" in run.state.message
    names = [r.name for r in task_runs(stack, run.id)]
    assert len(names) == 1 and names[0].startswith("check-parameters"), names
    assert "ParameterError" in log_text(stack, run.id)

    rejected = stack.deployment_run("ufo-pipeline/demo", "bogus=1", watch=False)
    assert rejected.returncode == 1
    assert "bogus" in rejected.stdout + rejected.stderr


def test_a_deployment_cannot_write_outside_the_allowed_roots(stack, tmp_path_factory):
    victim = tmp_path_factory.getbasetemp().parent / "victim.json"  # outside UFO_ALLOWED_ROOTS
    victim.write_text("precious")
    try:
        done = stack.deployment_run("ufo-pipeline/demo", f"out={victim}", timeout=230)
        assert done.returncode == 1
        run = wait_for_flow_run(stack, flow_run_id(done.stdout))
        assert run.state.is_failed()
        assert f"output {victim} is outside the folders deployment runs may use" in (
            run.state.message
        )
        names = [r.name for r in task_runs(stack, run.id)]
        assert len(names) == 1 and names[0].startswith("check-parameters"), names
        assert victim.read_text() == "precious"
    finally:
        victim.unlink()
