"""Holdout protocols and Kendall tau scoring, shared by the flow, `ufo evaluate` and bench/."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from schemas.search_space import TASKS
from tasks.errors import HoldoutError, ParameterError
from tasks.events import event
from tasks.predict.predictors import PREDICTORS, get_predictor_class, make_predictor
from tasks.predict.predictors.base import Predictor

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Holdout:
    kind: str  # "last", "kfold" or "none"
    size: int = 0  # rows held out for "last", folds for "kfold"

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.size}"


# The holdout of `ufo run`, `ufo evaluate` and the ufo-pipeline flow when none is given.
DEFAULT_HOLDOUT = "last:100"
_HOLDOUT_PATTERN = re.compile(r"^(last|kfold):([0-9]+)$")


def parse_holdout(spec: str) -> Holdout:
    spec = spec.strip()
    if spec == "none":
        return Holdout("none")
    match = _HOLDOUT_PATTERN.match(spec)
    if match is None:
        raise HoldoutError(f"holdout {spec!r} is not one of 'last:N', 'kfold:K' or 'none'")
    kind, size = match.group(1), int(match.group(2))
    if kind == "kfold" and size < 2:
        raise HoldoutError(f"holdout {spec!r}: kfold needs at least 2 folds")
    if kind == "last" and size < 2:
        raise HoldoutError(f"holdout {spec!r}: hold out at least 2 archs to compute Kendall tau")
    return Holdout(kind, size)


def holdout_splits(
    n_rows: int, holdout: Holdout, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) per fold. `last:N` keeps file order, as the seed
    notebook did (train on the first rows, score on the last N); `kfold:K` shuffles
    with `seed`."""
    if holdout.kind == "none":
        return []
    if holdout.kind == "last":
        if holdout.size >= n_rows - 3:
            raise HoldoutError(
                f"holdout last:{holdout.size} leaves too few of {n_rows} archs to train on"
            )
        cut = n_rows - holdout.size
        return [(np.arange(cut), np.arange(cut, n_rows))]
    if holdout.size > n_rows // 2:
        raise HoldoutError(
            f"holdout kfold:{holdout.size} needs at least {2 * holdout.size} archs, got {n_rows}"
        )
    order = np.random.default_rng(seed).permutation(n_rows)
    folds = np.array_split(order, holdout.size)
    return [
        (np.sort(np.concatenate([f for j, f in enumerate(folds) if j != i])), np.sort(fold))
        for i, fold in enumerate(folds)
    ]


def kendall_tau(scores: np.ndarray, truth: np.ndarray) -> float:
    tau = kendalltau(scores, truth).statistic
    if not np.isfinite(tau):
        raise ValueError("Kendall tau is undefined (constant predictions or labels)")
    return float(tau)


# Predictor.fit_shared's minimum.
MIN_SHARED_ROWS = 4


def complete_rows(
    predictor_name: str, X: np.ndarray, all_labels: np.ndarray, where: str = "training entries"
) -> tuple[np.ndarray, np.ndarray]:
    """The rows shared statistics are computed from: those that measure every task (NaN
    in `all_labels` marks a task an entry does not measure), that is every row of a
    competition file. Fewer than MIN_SHARED_ROWS such rows: a ParameterError naming the
    counts and the predictors that share nothing."""
    labels = np.asarray(all_labels)
    if labels.dtype.kind != "f":
        return X, labels
    complete = np.isfinite(labels).all(axis=1)
    if complete.all():
        return X, labels
    if complete.sum() < MIN_SHARED_ROWS:
        others = sorted(name for name, cls in PREDICTORS.items() if not cls.uses_shared)
        raise ParameterError(
            f"predictor {predictor_name!r} learns statistics shared by all tasks from the "
            f"entries measured on every task, and {int(complete.sum())} of the "
            f"{len(labels)} {where} are (it needs at least {MIN_SHARED_ROWS}): measure more "
            f"archs on all {labels.shape[1]} tasks, or choose a predictor that fits each task "
            f"on its own ({', '.join(others)})"
        )
    return X[complete], labels[complete]


def fold_shared(
    predictor_name: str, X: np.ndarray, all_labels: np.ndarray | None, train_idx: np.ndarray
) -> object | None:
    """The predictor's cross-task statistics (`fit_shared`) from the fold's training rows
    only: every task's labels on `train_idx`, never a held-out row's (and of those, the
    rows that measure every task). None for a predictor without any."""
    cls = get_predictor_class(predictor_name)
    if not cls.uses_shared:
        return None
    if all_labels is None:
        raise ValueError(
            f"predictor {predictor_name!r} shares statistics across tasks: pass every "
            "task's labels (all_labels, shape (n, tasks))"
        )
    X_fold, labels = complete_rows(
        predictor_name,
        X[train_idx],
        np.asarray(all_labels)[train_idx],
        "training entries of a fold",
    )
    return cls.fit_shared(X_fold, labels)


def fit_and_score(
    predictor_name: str,
    X: np.ndarray,
    y: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    shared: object | None = None,
) -> tuple[Predictor, float]:
    """One fold of one task: fit on the fold's training rows only (with `shared` from
    fold_shared on the same rows), then Kendall tau of the predictions on its test rows.
    Returns the fitted predictor too (bench/ reports its choices)."""
    y = np.asarray(y, dtype=np.float64)
    model = make_predictor(predictor_name).fit(X[train_idx], y[train_idx], shared=shared)
    return model, kendall_tau(model.predict(X[test_idx]), y[test_idx])


def fold_taus(
    predictor_name: str,
    X: np.ndarray,
    y: np.ndarray,
    holdout: Holdout,
    holdout_seed: int = 0,
    all_labels: np.ndarray | None = None,
) -> list[float]:
    """The fold loop, for one task: Kendall tau per holdout fold. `all_labels` (n, tasks)
    holds every task's labels, needed by predictors that share statistics across tasks;
    each fold computes them from its own training rows. The flow, `ufo evaluate` and
    bench/ all come through here or through fold_shared and fit_and_score."""
    taus = []
    for train_idx, test_idx in holdout_splits(len(X), holdout, holdout_seed):
        shared = fold_shared(predictor_name, X, all_labels, train_idx)
        taus.append(fit_and_score(predictor_name, X, y, train_idx, test_idx, shared)[1])
    return taus


def evaluate_predictor(
    predictor_name: str, X: np.ndarray, ranks: np.ndarray, holdout: Holdout, holdout_seed: int = 0
) -> pd.DataFrame:
    """One row per fold, one column per task plus `average`. `ranks` is (n, 8) in TASKS
    order, NaN where an entry does not measure a task: each task is evaluated on the rows
    that measure it."""
    per_task = {}
    for t, task in enumerate(TASKS):
        measured = np.isfinite(ranks[:, t])
        if measured.all():
            per_task[task] = fold_taus(
                predictor_name, X, ranks[:, t], holdout, holdout_seed, all_labels=ranks
            )
        else:
            rows = np.flatnonzero(measured)
            per_task[task] = fold_taus(
                predictor_name, X[rows], ranks[rows, t], holdout, holdout_seed, ranks[rows]
            )
        tau = float(np.mean(per_task[task]))
        logger.info(
            "%s: mean Kendall tau %.4f over %d folds",
            task,
            tau,
            len(per_task[task]),
            extra=event("evaluated", task=task, tau=tau),
        )
    return taus_table(per_task)


def taus_table(per_task: dict[str, list[float]]) -> pd.DataFrame:
    """One row per fold (`fold` 0..), one column per task in TASKS order, plus `average`."""
    table = pd.DataFrame(per_task, columns=list(TASKS))
    table.insert(0, "fold", range(len(table)))
    table["average"] = table[list(TASKS)].mean(axis=1)
    return table


def summarise_taus(per_fold: pd.DataFrame) -> dict[str, float]:
    """Mean over folds of each task's tau and of the average."""
    return {column: float(per_fold[column].mean()) for column in [*TASKS, "average"]}
