"""Holdout protocols and Kendall tau scoring, shared by the flow, `ufo evaluate` and bench/."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from schemas.search_space import TASKS
from tasks.events import event
from tasks.predictors import make_predictor

logger = logging.getLogger(__name__)


class HoldoutError(ValueError):
    """A holdout spec that is not `last:N`, `kfold:K` or `none`, or that does not fit the data."""


@dataclass(frozen=True)
class Holdout:
    kind: str  # "last", "kfold" or "none"
    size: int = 0  # rows held out for "last", folds for "kfold"

    def __str__(self) -> str:
        return "none" if self.kind == "none" else f"{self.kind}:{self.size}"


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


def score_fold(
    predictor_name: str,
    X: np.ndarray,
    ranks: np.ndarray,
    train_idx: np.ndarray,
    test_idx: np.ndarray,
    seed: int = 0,
) -> dict[str, float]:
    """Fit one predictor per task on train rows, return Kendall tau per task on test rows.
    `ranks` is (n, 8) in TASKS order."""
    taus = {}
    for t, task in enumerate(TASKS):
        model = make_predictor(predictor_name, seed=seed).fit(X[train_idx], ranks[train_idx, t])
        taus[task] = kendall_tau(model.predict(X[test_idx]), ranks[test_idx, t])
        logger.info(
            "%s: tau %.4f on %d held-out archs",
            task,
            taus[task],
            len(test_idx),
            extra=event("fold_task", task=task, tau=taus[task]),
        )
    return taus


def evaluate_predictor(
    predictor_name: str, X: np.ndarray, ranks: np.ndarray, holdout: Holdout, seed: int = 0
) -> pd.DataFrame:
    """One row per fold, one column per task plus `average`."""
    rows = []
    for fold, (train_idx, test_idx) in enumerate(holdout_splits(len(X), holdout, seed)):
        taus = score_fold(predictor_name, X, ranks, train_idx, test_idx, seed=seed)
        rows.append({"fold": fold, **taus})
    table = pd.DataFrame(rows, columns=["fold", *TASKS])
    table["average"] = table[list(TASKS)].mean(axis=1)
    return table


def summarise_taus(per_fold: pd.DataFrame) -> dict[str, float]:
    """Mean over folds of each task's tau and of the average."""
    return {column: float(per_fold[column].mean()) for column in [*TASKS, "average"]}
