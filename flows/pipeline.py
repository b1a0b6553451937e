"""The prediction pipeline: competition files in, checked submission out."""

from __future__ import annotations

from prefect import flow, unmapped
from prefect.futures import wait
from prefect.task_runners import ThreadPoolTaskRunner

from schemas.search_space import RANK_FIELDS, TASKS
from tasks.predictors import DEFAULT_PREDICTOR, get_predictor_class
from tasks.prefect_tasks import (
    assemble,
    check_parameters,
    check_submission,
    code_version,
    encode_archs,
    pipeline_run_name,
    publish_evaluation,
    publish_summary,
    read_and_validate,
    safe_fits,
    write_submission,
)


@flow(
    name="ufo-pipeline",
    flow_run_name=pipeline_run_name,
    task_runner=ThreadPoolTaskRunner(max_workers=2),
)
def ufo_pipeline(
    train: str | None = None,
    test: str | None = None,
    out: str | None = None,
    predictor: str = DEFAULT_PREDICTOR,
    holdout: str = "last:100",
    seed: int = 0,
    fault: str | None = None,
) -> str:
    """Validate, encode, fit one predictor per task, evaluate, and write a checked submission."""
    run = check_parameters(train, test, out, predictor, holdout)
    train_frame, _ = read_and_validate(run.train, "train")
    test_frame, _ = read_and_validate(run.test, "test")
    encoding = get_predictor_class(run.predictor).encoding
    train_features = encode_archs(train_frame, encoding, "train")
    test_features = encode_archs(test_frame, encoding, "test")
    ranks = [train_frame[field].astype(int).tolist() for field in RANK_FIELDS]
    shared = dict(
        predictor=unmapped(run.predictor),
        train_features=unmapped(str(train_features.cache_path)),
        seed=unmapped(seed),
        code=unmapped(code_version()),
        fault=unmapped(fault),
    )
    fit_task_predictor, evaluate_task_holdout = safe_fits()  # persisted results: sha256, no pickle
    holdout_taus = evaluate_task_holdout.map(
        TASKS, train_ranks=ranks, holdout=unmapped(run.holdout), **shared
    )
    scores = fit_task_predictor.map(
        TASKS, train_ranks=ranks, test_features=unmapped(str(test_features.cache_path)), **shared
    )
    # Let every fit finish even if one fails: the finished ones persist for a cheap rerun.
    wait([*holdout_taus, *scores])
    evaluation = publish_evaluation(
        dict(zip(TASKS, holdout_taus.result(), strict=True)), run.predictor, run.holdout
    )
    submission = assemble(test_frame, scores.result())
    checked_bytes = check_submission(submission, test_frame)
    written = write_submission(checked_bytes, run.out)
    publish_summary(run, [train_features, test_features], evaluation, written)
    return written["path"]
