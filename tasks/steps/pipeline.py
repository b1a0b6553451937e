"""The ufo-pipeline flow's own steps: thin Prefect wrappers around the plain functions
in tasks/ (names, retries, artifacts, logging); the logic lives in the wrapped functions."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from schemas.search_space import RANK_FIELDS, TASKS
from tasks.checks import parameters, validation
from tasks.events import event
from tasks.files import reading
from tasks.predict import fitting, submission
from tasks.predict.evaluate import Holdout, summarise_taus, taus_table
from tasks.safety import confinement
from tasks.steps.common import _maybe_fail, _publish_validation, in_deployment_run
from tasks.steps.policies import fit_step
from tasks.steps.result_storage import SafeSerializer

# INFO records of the plain functions (fit times, taus) reach the run logs when
# PREFECT_LOGGING_EXTRA_LOGGERS includes "tasks" (flows/settings.py sets it).
logging.getLogger("tasks").setLevel(logging.INFO)


def provisional_run_name() -> str:
    """The flow run's name until validation has hashed the inputs (see name_flow_run)."""
    return f"{flow_run.parameters.get('predictor', 'default')}-validating"


@task(name="check-parameters")
def check_parameters(
    train: str, test: str, out: str, predictor: str, holdout: str
) -> parameters.RunParameters:
    confined = in_deployment_run()
    if confined:  # before any of these paths is touched
        names = ("train", "test", "output")
        labelled = zip(names, parameters.default_paths(train, test, out), strict=True)
        confinement.require_inside_roots(dict(labelled))
    run = parameters.check_run_parameters(train, test, out, predictor, holdout)
    # The CLI has checked replacing (it honours --force); a deployment run never may.
    confinement.check_submission_output(
        run.out, run.test, replace_any=not confined, hint=confinement.REPLACE_HINT_DEPLOYMENT
    )
    return run


@fit_step(
    name="fit-task-predictor", task_run_name="fit-{task_name}", result_serializer=SafeSerializer()
)
def fit_task_predictor(
    task_name: str,
    predictor: str,
    train: fitting.TrainingSet,
    test_features: np.ndarray,
    shared: object | None = None,
    fault: str | None = None,
) -> np.ndarray:
    _maybe_fail(f"fit:{task_name}", fault)
    return fitting.fit_and_predict_task(task_name, predictor, train, test_features, shared)


@fit_step(
    name="evaluate-task-holdout",
    task_run_name="holdout-{task_name}",
    result_serializer=SafeSerializer(),
)
def evaluate_task_holdout(
    task_name: str,
    predictor: str,
    train: fitting.TrainingSet,
    holdout: Holdout,
    holdout_seed: int,
    fault: str | None = None,
) -> list[float]:
    _maybe_fail(f"holdout:{task_name}", fault)
    return fitting.holdout_taus_for_task(task_name, predictor, train, holdout, holdout_seed)


@task(name="publish-evaluation")
def publish_evaluation(
    taus_per_task: list[list[float]], predictor: str, holdout: Holdout
) -> dict[str, float]:
    if holdout.kind == "none":
        get_run_logger().info("holdout none: no evaluation")
        return {}
    means = summarise_taus(taus_table(dict(zip(TASKS, taus_per_task, strict=True))))
    rows = [{"task": name, "kendall_tau": round(value, 4)} for name, value in means.items()]
    for row in rows:
        get_run_logger().info(
            "holdout %s, %s: Kendall tau %.4f", holdout, row["task"], row["kendall_tau"]
        )
    get_run_logger().info(
        "average Kendall tau %.4f",
        means["average"],
        extra=event("taus", holdout=str(holdout), taus=means),
    )
    create_table_artifact(
        key="kendall-tau",
        table=rows,
        description=f"Kendall tau per task, predictor {predictor}, holdout {holdout}",
    )
    return means


@task(name="assemble-submission")
def assemble(test_frame: pd.DataFrame, scores: list[np.ndarray]) -> pd.DataFrame:
    return submission.assemble_submission(test_frame, dict(zip(TASKS, scores, strict=True)))


@task(name="check-submission")
def stage_and_check_submission(
    submission_frame: pd.DataFrame, test_frame: pd.DataFrame, out: Path
) -> dict:
    """Write the submission to a temporary file beside `out`, read that file back and check
    it with the submission suite: what write-submission puts in place is what was checked."""

    def check(staged: Path) -> None:
        written, _ = reading.read_competition_file(staged)
        report = validation.validate_frame(
            written, "submission", source=str(out), reference=test_frame
        )
        _publish_validation(report)
        validation.require_valid(report)

    return submission.write_staged_submission(out, submission_frame, check)


@task(name="write-submission")
def write_submission(staged: dict) -> dict:
    written = submission.commit_staged_submission(staged)
    get_run_logger().info(
        "wrote %s (%d bytes, sha256 %s)",
        written["path"],
        written["bytes"],
        written["sha256"][:12],
        extra=event(
            "written", path=written["path"], bytes=written["bytes"], sha256=written["sha256"]
        ),
    )
    return written


@task(name="publish-summary")
def publish_summary(
    run: parameters.RunParameters,
    cache_notes: list[str],
    evaluation: dict,
    written: dict,
) -> str:
    hits = ", ".join(cache_notes)
    tau = f"{evaluation['average']:.4f}" if evaluation else "not evaluated"
    markdown = "\n".join(
        [
            "# ufo-nas submission",
            f"- train: `{run.train}`",
            f"- test: `{run.test}`",
            f"- predictor: `{run.predictor}`, holdout `{run.holdout}`, average Kendall tau {tau}",
            f"- encoding cache: {hits}",
            f"- submission: `{written['path']}` ({written['bytes']} bytes, sha256 `{written['sha256']}`)",
            f"- checks passed: train suite, test suite, submission suite ({len(RANK_FIELDS)} tasks, permutations of 0..N-1)",
            "- this checked file is the competition's submission artifact: the one file the "
            "CCF BDCI 2022 UFO task scores on both leaderboards, A and B (different node sets)",
        ]
    )
    create_markdown_artifact(
        key="run-summary", markdown=markdown, description="ufo-nas run summary"
    )
    return markdown
