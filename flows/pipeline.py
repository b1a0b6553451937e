"""The prediction pipeline: competition files in, checked submission out."""

from __future__ import annotations

from prefect import flow, unmapped
from prefect.futures import wait

from flows.runners import DEFAULT_RUNNER, build_task_runner
from schemas.search_space import TASKS
from tasks.predict.evaluate import DEFAULT_HOLDOUT
from tasks.predict.predictors import DEFAULT_PREDICTOR
from tasks.steps.common import (
    encode_test,
    encode_training,
    fit_shared_statistics,
    name_flow_run,
    read_and_validate,
)
from tasks.steps.pipeline import (
    assemble,
    check_parameters,
    evaluate_task_holdout,
    fit_task_predictor,
    provisional_run_name,
    publish_evaluation,
    publish_summary,
    stage_and_check_submission,
    write_submission,
)
from tasks.steps.policies import refit_on_first_attempt, safe_fits


@flow(
    name="ufo-pipeline",
    flow_run_name=provisional_run_name,
    task_runner=build_task_runner(DEFAULT_RUNNER),
)
def ufo_pipeline(
    train: str | None = None,
    test: str | None = None,
    out: str | None = None,
    predictor: str = DEFAULT_PREDICTOR,
    holdout: str = DEFAULT_HOLDOUT,
    holdout_seed: int = 0,
    refit: bool = False,
    fault: str | None = None,
) -> str:
    """Validate, encode, fit one predictor per task, evaluate, and write a checked submission.

    holdout_seed shuffles the `kfold:K` holdout folds. refit recomputes the fits and holdout
    evaluations even if cached (on the run's first attempt; a retry reuses what it saved).
    fault is a testing aid that fails one step once, e.g. `fit:vehicleid`."""
    run = check_parameters(train, test, out, predictor, holdout)
    train_frame, train_digest = read_and_validate(run.train, "train")
    test_frame, test_digest = read_and_validate(run.test, "test")
    name_flow_run(run.predictor, [train_digest, test_digest])
    training, train_cache = encode_training(train_frame, run.predictor)
    test_features, test_cache = encode_test(test_frame, run.predictor)
    # Persisted as .npy/JSON behind a sha256 (tasks/steps/result_storage.py).
    fit_step, holdout_step = safe_fits(fit_task_predictor, evaluate_task_holdout)
    holdout_taus = []  # holdout none: nothing to evaluate, so no eight empty task runs
    if run.holdout.kind != "none":
        holdout_taus = refit_on_first_attempt(holdout_step, refit).map(
            TASKS,
            predictor=unmapped(run.predictor),
            train=unmapped(training),
            holdout=unmapped(run.holdout),
            holdout_seed=unmapped(holdout_seed),
            fault=unmapped(fault),
        )
    shared = fit_shared_statistics(run.predictor, training)
    scores = refit_on_first_attempt(fit_step, refit).map(
        TASKS,
        predictor=unmapped(run.predictor),
        train=unmapped(training),
        test_features=unmapped(test_features),
        shared=unmapped(shared),
        fault=unmapped(fault),
    )
    # Let every fit finish even if one fails: the finished ones persist for a cheap rerun.
    wait([*holdout_taus, *scores])
    evaluation = publish_evaluation([t.result() for t in holdout_taus], run.predictor, run.holdout)
    submission = assemble(test_frame, scores.result())
    staged = stage_and_check_submission(submission, test_frame, run.out)  # checks the bytes on disk
    written = write_submission(staged)
    publish_summary(run, [train_cache, test_cache], evaluation, written)
    return written["path"]
