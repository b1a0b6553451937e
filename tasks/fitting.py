"""Per-task fitting and holdout scoring on cached encodings.

Fit steps receive Parquet cache paths (content-addressed, so cheap to hash into cache
keys and to ship to Dask workers) and load the features once per process."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from functools import lru_cache
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from schemas.search_space import TASKS
from tasks.encode import load_cached_features
from tasks.evaluate import Holdout, holdout_splits, kendall_tau
from tasks.events import event
from tasks.predictors import make_predictor
from tasks.predictors.base import Predictor

logger = logging.getLogger(__name__)
_LOAD_LOCK = threading.Lock()


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection setting (for testing reruns)."""


@lru_cache(maxsize=4)
def _load_features_unlocked(path: str) -> np.ndarray:
    features = load_cached_features(path)
    features.setflags(write=False)  # shared between threads: nobody may modify it
    return features


def one_blas_thread_per_fit() -> None:
    """The flow runs two fits at a time on two cores; BLAS threads on top of that
    oversubscribe the cores and made the ensemble's eigendecompositions several times
    slower (bench/README.md). Process-wide and idempotent, so concurrent fits agree."""
    threadpool_limits(limits=1, user_api="blas")


def load_features(path: Path | str) -> np.ndarray:
    with _LOAD_LOCK:
        return _load_features_unlocked(str(path))


def fit_task_model(
    task: str,
    predictor_name: str,
    train_features: Path | str,
    train_ranks: list[int],
    seed: int = 0,
) -> Predictor:
    """Fit the predictor for one task on all training archs."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    one_blas_thread_per_fit()
    X_train = load_features(train_features)
    started = time.perf_counter()
    model = make_predictor(predictor_name, seed=seed).fit(
        X_train, np.asarray(train_ranks, dtype=np.float64)
    )
    seconds = time.perf_counter() - started
    logger.info(
        "%s: fitted %s on %d archs in %.2f s",
        task,
        predictor_name,
        len(X_train),
        seconds,
        extra=event("fitted", task=task, seconds=seconds),
    )
    return model


def fit_and_predict_task(
    task: str,
    predictor_name: str,
    train_features: Path | str,
    train_ranks: list[int],
    test_features: Path | str,
    seed: int = 0,
) -> np.ndarray:
    """Fit the predictor for one task on all training archs; return test-arch scores."""
    model = fit_task_model(task, predictor_name, train_features, train_ranks, seed)
    X_test = load_features(test_features)
    started = time.perf_counter()
    scores = model.predict(X_test)
    logger.info(
        "%s: scored %d test archs in %.2f s", task, len(X_test), time.perf_counter() - started
    )
    return scores


def holdout_taus_for_task(
    task: str,
    predictor_name: str,
    train_features: Path | str,
    train_ranks: list[int],
    holdout: Holdout,
    seed: int = 0,
) -> list[float]:
    """Kendall tau on each holdout fold for one task (empty for holdout `none`)."""
    one_blas_thread_per_fit()
    X = load_features(train_features)
    y = np.asarray(train_ranks, dtype=np.float64)
    taus = []
    for train_idx, test_idx in holdout_splits(len(X), holdout, seed):
        model = make_predictor(predictor_name, seed=seed).fit(X[train_idx], y[train_idx])
        taus.append(kendall_tau(model.predict(X[test_idx]), y[test_idx]))
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
