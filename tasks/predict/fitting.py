"""Per-task fitting and holdout scoring on encoded archs held in memory.

The fit steps receive the features themselves (compact uint8 one-hot, see
tasks/predict/encode.py), never a path: a Dask worker on another machine, with no access to the
flow's disk, runs them as they are, and their cache keys depend on content only."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tasks.events import event
from tasks.predict.evaluate import Holdout, fold_taus
from tasks.predict.predictors import get_predictor_class, make_predictor
from tasks.predict.predictors.base import Predictor

logger = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection setting (for testing reruns)."""


@dataclass(frozen=True)
class TrainingSet:
    """What every fit needs from the training file: features and each task's ranks."""

    features: np.ndarray  # (n, d), compact dtype from tasks.predict.encode.compact_features
    ranks: dict[str, np.ndarray]  # task -> (n,) int64 ranks, 0 = best

    def labels(self, task: str) -> np.ndarray:
        if task not in self.ranks:
            raise ValueError(f"unknown task {task!r}")
        return self.ranks[task]

    def all_labels(self) -> np.ndarray:
        """Every task's ranks, (n, tasks), for predictors that share statistics across tasks."""
        return np.column_stack([self.ranks[task] for task in self.ranks])


def one_blas_thread_per_fit() -> None:
    """The flow runs two fits at a time on two cores; BLAS threads on top of that
    oversubscribe the cores and made the ensemble's eigendecompositions several times
    slower (bench/README.md). Process-wide and idempotent, so concurrent fits agree."""
    threadpool_limits(limits=1, user_api="blas")


def fit_shared_stats(predictor_name: str, train: TrainingSet) -> object | None:
    """The predictor's cross-task statistics from all training rows and every task's ranks,
    computed once before the per-task fits (None for a predictor without any)."""
    one_blas_thread_per_fit()
    started = time.perf_counter()
    shared = get_predictor_class(predictor_name).fit_shared(train.features, train.all_labels())
    if shared is not None:
        logger.info(
            "shared statistics for %s: %s in %.2f s",
            predictor_name,
            shared,
            time.perf_counter() - started,
        )
    return shared


def fit_task_model(
    task: str, predictor_name: str, train: TrainingSet, shared: object | None = None
) -> Predictor:
    """Fit the predictor for one task on all training archs. `shared`: fit_shared_stats
    of the same training set, computed here if the predictor needs it and none is given."""
    one_blas_thread_per_fit()
    if shared is None and get_predictor_class(predictor_name).uses_shared:
        shared = fit_shared_stats(predictor_name, train)
    y = train.labels(task).astype(np.float64)
    started = time.perf_counter()
    model = make_predictor(predictor_name).fit(train.features, y, shared=shared)
    seconds = time.perf_counter() - started
    logger.info(
        "%s: fitted %s on %d archs in %.2f s",
        task,
        predictor_name,
        len(y),
        seconds,
        extra=event("fitted", task=task, seconds=seconds),
    )
    return model


def fit_and_predict_task(
    task: str,
    predictor_name: str,
    train: TrainingSet,
    test_features: np.ndarray,
    shared: object | None = None,
) -> np.ndarray:
    """Fit the predictor for one task on all training archs; return test-arch scores."""
    model = fit_task_model(task, predictor_name, train, shared)
    started = time.perf_counter()
    scores = model.predict(test_features)
    logger.info(
        "%s: scored %d test archs in %.2f s",
        task,
        len(test_features),
        time.perf_counter() - started,
    )
    return scores


def holdout_taus_for_task(
    task: str, predictor_name: str, train: TrainingSet, holdout: Holdout, holdout_seed: int = 0
) -> list[float]:
    """Kendall tau on each holdout fold for one task (empty for holdout `none`). Shared
    statistics, if the predictor has any, come from each fold's training rows only."""
    one_blas_thread_per_fit()
    taus = fold_taus(
        predictor_name,
        train.features,
        train.labels(task),
        holdout,
        holdout_seed,
        all_labels=train.all_labels(),
    )
    if taus:
        tau = float(np.mean(taus))
        logger.info(
            "%s: holdout %s Kendall tau %.4f",
            task,
            holdout,
            tau,
            extra=event("holdout", task=task, tau=tau),
        )
    return taus


def maybe_inject_fault(step: str, fault: str | None, attempt_token: str, marker_dir: Path) -> None:
    """Testing aid: when `fault` names this step (e.g. "fit:vehicleid"), fail every try
    within the first flow-run attempt that reaches it, and pass on any later attempt
    (a retried or re-triggered run). `attempt_token` identifies the flow-run attempt."""
    if not fault or fault != step:
        return
    marker_dir.mkdir(parents=True, exist_ok=True)
    marker = marker_dir / (hashlib.sha256(step.encode()).hexdigest()[:16] + ".fault")
    if marker.exists() and marker.read_text() != attempt_token:
        return
    marker.write_text(attempt_token)
    raise InjectedFault(f"injected fault in {step} (UFO fault injection, for testing reruns)")
