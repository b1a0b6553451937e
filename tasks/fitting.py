"""Per-task fitting and holdout scoring on encoded archs held in memory.

The fit steps receive the features themselves (compact uint8 one-hot, see
tasks/encode.py), never a path: a Dask worker on another machine, with no access to the
flow's disk, runs them as they are, and their cache keys depend on content only."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tasks.evaluate import Holdout, fold_taus
from tasks.events import event
from tasks.predictors import make_predictor
from tasks.predictors.base import Predictor

logger = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection setting (for testing reruns)."""


@dataclass(frozen=True)
class TrainingSet:
    """What every fit needs from the training file: features and each task's ranks."""

    features: np.ndarray  # (n, d), compact dtype from tasks.encode.compact_features
    ranks: dict[str, np.ndarray]  # task -> (n,) int64 ranks, 0 = best

    def labels(self, task: str) -> np.ndarray:
        if task not in self.ranks:
            raise ValueError(f"unknown task {task!r}")
        return self.ranks[task]


def one_blas_thread_per_fit() -> None:
    """The flow runs two fits at a time on two cores; BLAS threads on top of that
    oversubscribe the cores and made the ensemble's eigendecompositions several times
    slower (bench/README.md). Process-wide and idempotent, so concurrent fits agree."""
    threadpool_limits(limits=1, user_api="blas")


def fit_task_model(task: str, predictor_name: str, train: TrainingSet) -> Predictor:
    """Fit the predictor for one task on all training archs."""
    one_blas_thread_per_fit()
    y = train.labels(task).astype(np.float64)
    started = time.perf_counter()
    model = make_predictor(predictor_name).fit(train.features, y)
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
    task: str, predictor_name: str, train: TrainingSet, test_features: np.ndarray
) -> np.ndarray:
    """Fit the predictor for one task on all training archs; return test-arch scores."""
    model = fit_task_model(task, predictor_name, train)
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
    """Kendall tau on each holdout fold for one task (empty for holdout `none`)."""
    one_blas_thread_per_fit()
    taus = fold_taus(predictor_name, train.features, train.labels(task), holdout, holdout_seed)
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
