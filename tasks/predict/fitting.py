"""Per-task fitting and holdout scoring on encoded archs held in memory.

The fit steps receive the features themselves (compact uint8 one-hot, see
tasks/predict/encode.py), never a path: a Dask worker on another machine, with no access to the
flow's disk, runs them as they are, and their cache keys depend on content only."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from tasks.errors import HoldoutError
from tasks.events import event
from tasks.predict.evaluate import Holdout, complete_rows, fold_taus
from tasks.predict.predictors import get_predictor_class, make_predictor
from tasks.predict.predictors.base import Predictor

logger = logging.getLogger(__name__)


class InjectedFault(RuntimeError):
    """Raised on purpose by the fault-injection setting (for testing reruns)."""


@dataclass(frozen=True)
class TrainingSet:
    """What every fit needs from the training file: features and each task's ranks.

    A file of one's own measurements may lack a task in some entries: that task's ranks
    are then those of the m entries that measure it (0..m-1), and `rows` holds which rows
    of `features` they are. A task every entry measures (every task of a competition
    file) has no `rows` entry."""

    features: np.ndarray  # (n, d), compact dtype from tasks.predict.encode.compact_features
    ranks: dict[str, np.ndarray]  # task -> (m,) int64 ranks, 0 = best
    rows: dict[str, np.ndarray] = field(default_factory=dict)  # task -> (m,) sorted row indices

    def __post_init__(self) -> None:
        for task, ranks in self.ranks.items():
            expected = len(self.rows[task]) if task in self.rows else len(self.features)
            if len(ranks) != expected:
                raise ValueError(f"{task}: {len(ranks)} ranks for {expected} rows")
        unknown = sorted(set(self.rows) - set(self.ranks))
        if unknown:
            raise ValueError(f"rows given for tasks without ranks: {unknown}")

    def labels(self, task: str) -> np.ndarray:
        if task not in self.ranks:
            raise ValueError(f"unknown task {task!r}")
        return self.ranks[task]

    def task_features(self, task: str) -> np.ndarray:
        """The features of the rows that measure `task` (all of them for most files)."""
        self.labels(task)
        return self.features[self.rows[task]] if task in self.rows else self.features

    def all_labels(self) -> np.ndarray:
        """Every task's ranks, (n, tasks), for predictors that share statistics across tasks:
        int64 when every entry measures every task, else float64 with NaN where an entry
        does not measure a task."""
        if not self.rows:
            return np.column_stack([self.ranks[task] for task in self.ranks])
        labels = np.full((len(self.features), len(self.ranks)), np.nan)
        for column, (task, ranks) in enumerate(self.ranks.items()):
            labels[self.rows.get(task, slice(None)), column] = ranks
        return labels


def one_blas_thread_per_fit() -> None:
    """The flow runs two fits at a time on two cores; BLAS threads on top of that
    oversubscribe the cores and made the ensemble's eigendecompositions several times
    slower (bench/README.md). Process-wide and idempotent, so concurrent fits agree."""
    threadpool_limits(limits=1, user_api="blas")


def require_fittable(predictor_name: str, train: TrainingSet) -> None:
    """Refuse, before any fit starts, a training set the predictor cannot use: a predictor
    with shared statistics needs enough entries that measure every task."""
    if get_predictor_class(predictor_name).uses_shared:
        complete_rows(predictor_name, train.features, train.all_labels())


def fit_shared_stats(predictor_name: str, train: TrainingSet) -> object | None:
    """The predictor's cross-task statistics from every task's ranks on the training rows
    that measure every task (all of them in a competition file), computed once before the
    per-task fits (None for a predictor without any)."""
    one_blas_thread_per_fit()
    cls = get_predictor_class(predictor_name)
    if not cls.uses_shared:
        return None
    started = time.perf_counter()
    X, Y = complete_rows(predictor_name, train.features, train.all_labels())
    shared = cls.fit_shared(X, Y)
    if shared is not None:
        logger.info(
            "shared statistics for %s: %s in %.2f s%s",
            predictor_name,
            shared,
            time.perf_counter() - started,
            f", from the {len(X)} of {len(train.features)} entries measured on every task"
            if len(X) < len(train.features)
            else "",
        )
    return shared


def fit_task_model(
    task: str, predictor_name: str, train: TrainingSet, shared: object | None = None
) -> Predictor:
    """Fit the predictor for one task on the training archs that measure it (all of them
    in a competition file). `shared`: fit_shared_stats of the same training set, computed
    here if the predictor needs it and none is given."""
    one_blas_thread_per_fit()
    if shared is None and get_predictor_class(predictor_name).uses_shared:
        shared = fit_shared_stats(predictor_name, train)
    y = train.labels(task).astype(np.float64)
    started = time.perf_counter()
    model = make_predictor(predictor_name).fit(train.task_features(task), y, shared=shared)
    seconds = time.perf_counter() - started
    logger.info(
        "%s: fitted %s on %d archs in %.2f s",
        task,
        predictor_name,
        len(y),
        seconds,
        extra=event("fitted", task=task, seconds=seconds, rows=len(y)),
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
    """Kendall tau on each holdout fold for one task (empty for holdout `none`), on the
    training archs that measure it: the folds split those. Shared statistics, if the
    predictor has any, come from each fold's training rows only."""
    one_blas_thread_per_fit()
    rows = train.rows.get(task)
    if rows is None:
        taus = fold_taus(
            predictor_name,
            train.features,
            train.labels(task),
            holdout,
            holdout_seed,
            all_labels=train.all_labels(),
        )
    else:
        try:
            taus = fold_taus(
                predictor_name,
                train.task_features(task),
                train.labels(task),
                holdout,
                holdout_seed,
                all_labels=train.all_labels()[rows],
            )
        except HoldoutError as exc:
            raise HoldoutError(
                f"{task} is measured on {len(rows)} of {len(train.features)} entries: {exc}"
            ) from None
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
