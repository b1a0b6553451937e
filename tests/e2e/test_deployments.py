"""Deployments triggered through the `prefect` CLI against the served stack; results read
back through the Prefect API."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from schemas.search_space import TASKS
from tasks.predict.predictors import DEFAULT_PREDICTOR
from tests.e2e.stack import (
    FIT_NAMES,
    flow_run_id,
    make_inputs,
    wait_for_artifacts,
    wait_for_flow_run,
    wait_for_logs,
    wait_for_task_runs,
)

pytestmark = pytest.mark.slow


def test_make_serve_registered_the_deployments_and_is_idempotent(stack):
    assert (
        "serving ufo-pipeline/demo, ufo-pipeline/competition, ufo-pipeline/dask, ufo-search/demo, ufo-propose/demo"
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
        search = client.read_deployment_by_name("ufo-search/demo")
    raw = stack.data_dir / "raw"
    assert competition.parameters["train"] == str(raw / "CCF_UFO_train.json")
    assert competition.parameters["test"] == str(raw / "CCF_UFO_test.json")
    assert competition.parameters["out"].endswith("CCF_UFO_submit.json")
    assert demo.parameters == {}
    assert stack.dask_address in dask.description
    assert search.parameters == {}


def test_demo_deployment_shows_every_step_artifact_and_figure(stack, demo_run):
    done, run, seconds = demo_run
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flow run finished successfully in 'Completed'." in done.stdout
    assert run.state.name == "Completed"
    prefix = f"{DEFAULT_PREDICTOR}-"  # the demo deployment runs the default predictor
    assert run.name.startswith(prefix) and len(run.name) == len(prefix) + 8

    steps = (
        "check-parameters",
        "validate-train",
        "validate-test",
        "encode-train",
        "encode-test",
        "shared-statistics",
        *FIT_NAMES,
        "publish-evaluation",
        "assemble-submission",
        "check-submission",
        "write-submission",
        "publish-summary",
    )
    # Each step is there and final (the wait fails naming any that is not).
    names = [r.name for r in wait_for_task_runs(stack, run.id, steps)]
    assert sorted(n for n in names if n.startswith("fit-")) == sorted(FIT_NAMES)

    submission = stack.data_dir / "submissions" / "demo_submission.json"
    body = submission.read_bytes()
    records = json.loads(body)
    assert len(records) == 300

    found = wait_for_artifacts(
        stack,
        run.id,
        {
            "kendall-tau",
            "validation-train",
            "validation-test",
            "validation-submission",
            "run-summary",
        },
    )
    tau_rows = json.loads(found["kendall-tau"].data)
    assert [row["task"] for row in tau_rows][-1] == "average" and len(tau_rows) == len(TASKS) + 1
    assert all(-1 <= row["kendall_tau"] <= 1 for row in tau_rows)
    summary = found["run-summary"].data
    assert str(submission) in summary
    assert f"{len(body)} bytes" in summary
    assert hashlib.sha256(body).hexdigest() in summary

    wait_for_logs(
        stack,
        run.id,
        contains=(
            "read 200 entries",
            "read 300 entries",
            "Kendall tau",
            f"fitted {DEFAULT_PREDICTOR} on 200 archs in",  # fit times, from tasks.predict.fitting
            f"({len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()[:12]})",
        ),
        any_of=("cache miss", "cache hit"),
    )


def test_search_demo_deployment_writes_the_report_and_its_artifacts(stack, demo_run):
    # The demo files exist (make-demo in the stack fixture); the default predictor searches.
    done = stack.deployment_run("ufo-search/demo", "max_evals=2000")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Flow run finished successfully in 'Completed'." in done.stdout
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert run.name.startswith("search-all-params-") and not run.name.endswith("validating")
    wait_for_task_runs(stack, run.id, [*FIT_NAMES, "search-subnetworks", "write-search-report"])
    found = wait_for_artifacts(stack, run.id, ("search-picks", "search-front", "search-summary"))
    report = stack.data_dir / "search"
    picks = json.loads((report / "picks.json").read_text())
    assert len(picks) == 10 and all(p["params"] <= 60e6 for p in picks)
    assert [p["arch"] for p in json.loads(found["search-picks"].data)] == [p["arch"] for p in picks]
    assert picks[0]["arch"] in found["search-summary"].data
    assert (report / "front.png").read_bytes()[:4] == b"\x89PNG"


def test_propose_demo_deployment_writes_proposals_and_their_artifacts(stack, demo_run):
    done = stack.deployment_run(
        "ufo-propose/demo", "n=3", "max_evals=1000", "out=" + str(stack.data_dir / "propose")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    run = wait_for_flow_run(stack, flow_run_id(done.stdout))
    assert run.name.startswith("propose-all-params-")
    found = wait_for_artifacts(stack, run.id, ("proposals", "proposals-summary"))
    proposals = json.loads((stack.data_dir / "propose" / "proposals.json").read_text())
    assert len({p["arch"] for p in proposals}) == 3 and all(p["params"] <= 60e6 for p in proposals)
    assert [r["arch"] for r in json.loads(found["proposals"].data)] == [
        p["arch"] for p in proposals
    ]


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
    names = [r.name for r in wait_for_task_runs(stack, run.id, ["check-parameters"])]
    assert len(names) == 1 and names[0].startswith("check-parameters"), names
    wait_for_logs(stack, run.id, contains=["ParameterError"])

    rejected = stack.deployment_run("ufo-pipeline/demo", "bogus=1", watch=False)
    assert rejected.returncode == 1
    assert "bogus" in rejected.stdout + rejected.stderr


def test_a_deployment_cannot_write_outside_the_allowed_roots(stack, tmp_path_factory):
    # Outside UFO_ALLOWED_ROOTS, and a name of its own: test sessions running side by side
    # share that folder (a fixed name let one session's cleanup delete the other's file).
    victim = tmp_path_factory.getbasetemp().parent / f"victim-{uuid.uuid4().hex}.json"
    victim.write_text("precious")
    try:
        done = stack.deployment_run("ufo-pipeline/demo", f"out={victim}", timeout=230)
        assert done.returncode == 1
        run = wait_for_flow_run(stack, flow_run_id(done.stdout))
        assert run.state.is_failed()
        assert f"output {victim} is outside the folders deployment runs may use" in (
            run.state.message
        )
        names = [r.name for r in wait_for_task_runs(stack, run.id, ["check-parameters"])]
        assert len(names) == 1 and names[0].startswith("check-parameters"), names
        assert victim.read_text() == "precious"
    finally:
        victim.unlink()


def test_the_api_refuses_calls_without_the_credential(stack):
    import base64
    import stat
    import urllib.error
    import urllib.request

    assert stat.S_IMODE(stack.auth_file.stat().st_mode) == 0o600  # owner-only

    def post(headers):
        request = urllib.request.Request(
            f"{stack.api_url}/deployments/filter",
            data=b"{}",
            method="POST",
            headers={"Content-Type": "application/json", **headers},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status
        except urllib.error.HTTPError as error:
            return error.code

    def basic(credential: str) -> dict:
        return {"Authorization": "Basic " + base64.b64encode(credential.encode()).decode()}

    assert post(basic("ufo:not-the-password")) == 401
    assert post(basic(stack.auth_file.read_text().strip())) == 200
    assert post({}) == 401 and post(basic("ufo:")) == 401
