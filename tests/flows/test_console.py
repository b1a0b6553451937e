"""The console's reading of task-run states: fields of Prefect's state-change events, never
log text. No server: the events are made by Prefect's own event builder."""

import io

import pytest

from flows import console
from flows.task_states import TaskRunState
from schemas.search_space import TASKS


def _prefect_event(monkeypatch, task_run_name: str, state, run_count: int = 1, retries: int = 2):
    """The event Prefect's task engine emits when a task run enters `state`."""
    import prefect.utilities.engine as engine
    from prefect.client.schemas.objects import TaskRun, TaskRunPolicy
    from prefect.events import Event

    task_run = TaskRun(
        name=task_run_name,
        task_key="fit-task-predictor-abc",
        dynamic_key="0",
        run_count=run_count,
        empirical_policy=TaskRunPolicy(retries=retries, retry_delay=1),
    )
    captured = {}
    monkeypatch.setattr(
        engine, "emit_event", lambda **fields: captured.setdefault("event", Event(**fields))
    )
    engine.emit_task_run_state_change_event(
        task_run=task_run, initial_state=None, validated_state=state
    )
    return captured["event"]


def test_a_state_change_event_gives_the_run_name_state_and_attempts(monkeypatch):
    from prefect.states import Completed, Retrying

    event = _prefect_event(monkeypatch, "fit-sop", Completed(name="Cached"))
    cached = TaskRunState.from_event(event)
    assert (cached.task_run, cached.name, cached.type) == ("fit-sop", "Cached", "COMPLETED")
    assert cached.is_completed and not cached.is_retry
    event = _prefect_event(monkeypatch, "fit-sop", Retrying(), run_count=2)
    retry = TaskRunState.from_event(event)
    assert retry.is_retry and not retry.is_completed
    assert (retry.run_count, retry.retries) == (2, 2)


def _view(steps_per_task: int = 2) -> console.View:
    return console.View(
        out=io.StringIO(), tty=False, plan=console.Plan(steps_per_task=steps_per_task)
    )


def _state(task_run: str, name: str = "Completed", type_: str = "COMPLETED", **attempts):
    return TaskRunState(
        task_run, name, type_, attempts.get("run_count", 1), attempts.get("retries", 2)
    )


def test_a_task_is_done_when_all_its_steps_completed_and_says_which_were_cached():
    view = _view()
    view.fit_seconds["cplfw"] = 2.5
    view.on_task_state(_state("holdout-cplfw", "Cached"))
    assert view.out.getvalue() == ""  # one step of two
    view.on_task_state(_state("fit-cplfw"))
    assert view.out.getvalue() == "  cplfw       done (1/8): fitted in 2.5 s, holdout cached\n"


def test_a_fit_line_says_how_many_entries_the_task_was_fitted_on():
    """A measurements file may leave a task out of some entries: each fit says its rows."""
    view = _view(steps_per_task=1)
    view._on_event({"kind": "fitted", "task": "sop", "seconds": 0.5, "rows": 37})
    view.on_task_state(_state("fit-sop"))
    assert view.out.getvalue() == "  sop         done (1/8): fitted on 37 entries in 0.5 s\n"


@pytest.mark.parametrize(
    ("state", "why"),
    [
        (_state("fit-cplfw", "Failed", "FAILED"), "not completed"),
        (_state("fit-cplfw", "Running", "RUNNING"), "not final"),
        (_state("encode-train"), "not a planned step"),
        (_state("fit-nosuchtask"), "not a planned task"),
    ],
)
def test_other_states_and_runs_finish_no_step(state, why):
    view = _view(steps_per_task=1)
    view.on_task_state(state)
    assert view.out.getvalue() == "" and view.done_steps == 0, why


def test_a_retry_is_one_line_when_the_new_attempt_starts():
    view = _view()
    view.on_task_state(_state("fit-sop", "AwaitingRetry", "SCHEDULED", run_count=1, retries=2))
    assert view.out.getvalue() == ""  # the delay before it
    view.on_task_state(_state("fit-sop", "Retrying", "RUNNING", run_count=2, retries=2))
    assert view.out.getvalue() == "  fit-sop failed; retrying (attempt 2 of 3)\n"
    assert view.done_steps == 0


def test_a_replayed_state_counts_once_and_the_plan_completes():
    view = _view(steps_per_task=1)
    assert not view.wait_for_plan(0)
    view.on_task_state(_state("fit-sop"))
    view.on_task_state(_state("fit-sop"))  # an event stream's replay after a reconnect
    assert view.done_steps == 1
    for task in TASKS:
        view.on_task_state(_state(f"fit-{task}"))
    assert view.done_steps == len(TASKS) and view.wait_for_plan(0)
    assert view.out.getvalue().count(" done (") == len(TASKS)
