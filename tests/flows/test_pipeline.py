"""The flow's wiring, under a temporary Prefect API, on small data made in code."""

import asyncio
import json

import pytest

from flows.cli import main
from schemas.search_space import ARCH_FIELD, RANK_FIELDS, TASKS
from tasks.checks.validation import ValidationFailed
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train, make_test_standin
from tests.e2e.stack import wait_for


@pytest.fixture(scope="module")
def small_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("flow")
    train = make_demo_train(120, seed=1)
    test = make_test_standin(list(train[ARCH_FIELD]), 300, seed=2)
    train_path, test_path = folder / "train.json", folder / "test.json"
    write_competition_file(train_path, frame_to_records(train))
    write_competition_file(test_path, frame_to_records(test))
    return train_path, test_path, folder


async def _read_artifacts(flow_run_id) -> dict:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    async with get_client() as client:
        found = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
    return {a.key: a for a in found if a.key}


def _artifacts(state, keys: set[str]) -> dict:
    """The keyed artifacts of the flow run that ended in `state`, once all of `keys` are there
    (polled, like every read of something the API records after the fact)."""
    run_id = state.state_details.flow_run_id
    return wait_for(
        lambda: asyncio.run(_read_artifacts(run_id)),
        lambda found: ", ".join(sorted(keys - set(found))),
        f"artifacts of flow run {run_id}",
    )


async def _read_task_run_names(flow_run_id) -> list[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async with get_client() as client:
        found = await client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    return sorted(t.name for t in found)


def _task_run_names(state) -> list[str]:
    """The task runs of the flow run that ended in `state`, once its last step and its
    eight fits are recorded."""
    run_id = state.state_details.flow_run_id

    def missing(names: list[str]) -> str:
        lacking = [] if any(n.startswith("publish-summary") for n in names) else ["summary"]
        if sum(n.startswith("fit-") for n in names) < len(TASKS):
            lacking.append("fits")
        return ", ".join(lacking)

    return wait_for(
        lambda: asyncio.run(_read_task_run_names(run_id)),
        missing,
        f"task runs of flow run {run_id}",
    )


def test_pipeline_writes_a_checked_submission_and_publishes_artifacts(
    prefect_harness, small_files, capsys
):
    from flows.pipeline import ufo_pipeline

    train, test, folder = small_files
    out = folder / "sub.json"
    state = ufo_pipeline(
        train=str(train),
        test=str(test),
        out=str(out),
        predictor="gpnas",
        holdout="last:20",
        return_state=True,
    )
    assert state.result() == str(out)
    submission = json.loads(out.read_text())
    test_records = json.loads(test.read_text())
    assert list(submission) == list(test_records)
    for field in RANK_FIELDS:
        assert sorted(entry[field] for entry in submission.values()) == list(range(300))
    keys = {"kendall-tau", "run-summary", "validation-train", "validation-submission"}
    artifacts = _artifacts(state, keys)
    tau_rows = json.loads(artifacts["kendall-tau"].data)
    # The artifact holds the values `ufo evaluate` computes on the same data.
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(train),
                "--predictor",
                "gpnas",
                "--holdout",
                "last:20",
                "--json",
            ]
        )
        == 0
    )
    evaluated = json.loads(capsys.readouterr().out)
    assert [r["task"] for r in tau_rows] == [*TASKS, "average"]
    assert {r["task"]: r["kendall_tau"] for r in tau_rows} == {
        **{t: round(evaluated["tau"][t], 4) for t in TASKS},
        "average": round(evaluated["average"], 4),
    }
    assert str(out) in artifacts["run-summary"].data and "sha256" in artifacts["run-summary"].data

    # Same inputs again: encodings come from the Parquet cache, output bytes identical.
    out2 = folder / "sub2.json"
    state2 = ufo_pipeline(
        train=str(train),
        test=str(test),
        out=str(out2),
        predictor="gpnas",
        holdout="none",
        return_state=True,
    )
    assert state2.is_completed()
    assert out2.read_bytes() == out.read_bytes()
    summary = _artifacts(state2, {"run-summary"})["run-summary"].data
    assert summary.count(": hit") == 2
    # Eight holdout steps with a holdout, none without: nothing to evaluate, no empty runs.
    for run_state, holdouts in ((state, len(TASKS)), (state2, 0)):
        names = _task_run_names(run_state)
        assert sum(n.startswith("holdout-") for n in names) == holdouts, names
        assert sum(n.startswith("fit-") for n in names) == len(TASKS), names


def test_pipeline_stops_before_fitting_on_bad_input_and_keeps_the_old_output(
    prefect_harness, small_files
):
    from flows.pipeline import ufo_pipeline

    train, test, folder = small_files
    records = json.loads(train.read_text())
    first = next(iter(records))
    records[first]["cplfw_rank"] = 9999
    bad = folder / "bad_train.json"
    bad.write_text(json.dumps(records))
    out = folder / "existing.json"
    out.write_text("keep me")
    with pytest.raises(ValidationFailed, match="cplfw_rank"):
        ufo_pipeline(
            train=str(bad), test=str(test), out=str(out), predictor="gpnas", holdout="none"
        )
    assert out.read_text() == "keep me"
