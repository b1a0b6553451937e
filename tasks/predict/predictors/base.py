"""The one predictor contract: fit(X, y) on an encoding and ranks, predict(X) -> scores.

Scores only need to order archs (higher score = higher rank value); the pipeline turns
them into ranks 0..N-1. The base class owns the target normalisation so every family
treats ranks the same way.

`predict_with_sd(X)` gives the same scores and, next to each, a predictive standard
deviation on the scores' own scale: the family's uncalibrated spread (a GP posterior
variance, a ridge leverage, a combination of members) times one factor per fitted model
that gives the leave-one-out residuals of the training rows, standardised by their own
raw sd, unit root mean square (`calibration_scale`). `held_out_target` and
`target_in_score_units` put a held-out arch's label on the same scale, to check it.

A family may also learn something from all tasks at once (`uses_shared = True`): then
`fit_shared(X, Y)` computes it once from the training rows and every task's ranks, and each
task's `fit(X, y, shared=...)` takes it. Whoever fits (the flow, `ufo evaluate`, the fold
loop in tasks/predict/evaluate.py) calls `fit_shared` on exactly the rows it fits on."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Self

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

from tasks import cancellation

TargetTransform = Literal["raw", "normal_score"]
# Rows scored at a time. A kernel family holds a block-by-train matrix (8,192 x 500 float64
# is 33 MB), so two concurrent fits stay far below the training side's own footprint.
PREDICT_ROWS = 8192


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Rank-based inverse normal transform: rank r (1..n, ties averaged) -> Phi^-1(r/(n+1))."""
    y = np.asarray(y, dtype=np.float64)
    return ndtri(rankdata(y) / (len(y) + 1.0))


def calibration_scale(loo_residuals: np.ndarray, loo_raw_sd: np.ndarray) -> float:
    """The factor that makes the LOO residuals, each divided by its raw sd, unit RMS.

    The RMS, not a robust spread (e.g. 1.4826 x median |z|): it is the maximum-likelihood
    noise scale of the Gaussian model behind each family, and ranking errors here are not
    heavy-tailed enough to pull it off (bench/README.md, calibration section). Floored
    so that a model that interpolates its rows still reports sd > 0."""
    standardised = np.asarray(loo_residuals, np.float64) / np.asarray(loo_raw_sd, np.float64)
    return max(float(np.sqrt(np.mean(standardised**2))), 1e-12)


def goodness(scores: np.ndarray) -> np.ndarray:
    """How good archs are, from predictor scores: the one place the direction lives.

    Rank 0 is the best arch in the competition files, and predictor scores order archs
    like rank values (higher score = higher rank = worse). Search maximises goodness, so
    goodness = -score. It is linear (goodness(a + b) = goodness(a) + goodness(b)), which
    the exact search relies on when it turns an additive score into additive goodness
    terms. Nothing else in the project negates scores."""
    return -np.asarray(scores, dtype=np.float64)


class Predictor(ABC):
    """Subclasses set `name`, `description`, `encoding` and `target`, and implement
    `_fit` / `_predict`. Every randomness a subclass needs comes from `seed`."""

    name: ClassVar[str]
    description: ClassVar[str]
    encoding: ClassVar[str] = "onehot"
    target: ClassVar[TargetTransform] = "normal_score"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self._fitted = False

    # True when the family learns statistics from all tasks together (see fit_shared).
    uses_shared: ClassVar[bool] = False

    @classmethod
    def fit_shared(cls, X: np.ndarray, Y: np.ndarray) -> object | None:
        """Statistics shared by every task's fit, from the training rows `X` and the ranks
        of every task on them, `Y` of shape (n, tasks). None for a family without any."""
        if not cls.uses_shared:
            return None
        X = np.asarray(X, dtype=np.float64)
        Y = np.asarray(Y, dtype=np.float64)
        if X.ndim != 2 or Y.ndim != 2 or len(X) != len(Y) or Y.shape[1] < 1:
            raise ValueError(
                f"fit_shared needs X of shape (n, d) and Y of shape (n, tasks), got {X.shape} and {Y.shape}"
            )
        if len(Y) < 4:
            raise ValueError(f"fit_shared needs at least 4 labelled archs, got {len(Y)}")
        if not np.all(np.isfinite(Y)):
            raise ValueError("fit_shared targets contain NaN or infinity")
        targets = np.column_stack([cls._target(column) for column in Y.T])
        return cls._fit_shared(X, targets)

    def fit(self, X: np.ndarray, y: np.ndarray, shared: object | None = None) -> Self:
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        if X.ndim != 2 or y.ndim != 1 or len(X) != len(y):
            raise ValueError(
                f"fit needs X of shape (n, d) and y of shape (n,), got {X.shape} and {y.shape}"
            )
        if len(y) < 4:
            raise ValueError(f"fit needs at least 4 labelled archs, got {len(y)}")
        if not np.all(np.isfinite(y)):
            raise ValueError("fit targets contain NaN or infinity")
        if self.uses_shared and shared is None:
            raise ValueError(
                f"predictor {self.name!r} shares statistics across tasks: pass "
                "shared=fit_shared(X, Y) computed from the same training rows"
            )
        if not self.uses_shared and shared is not None:
            raise ValueError(f"predictor {self.name!r} takes no shared statistics")
        self.shared_ = shared
        self._fit(X, self._target(y))
        self._fitted = True
        return self

    @classmethod
    def _target(cls, y: np.ndarray) -> np.ndarray:
        return normal_scores(y) if cls.target == "normal_score" else y

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Scores for the rows of X, computed PREDICT_ROWS rows at a time: X may be compact
        (uint8) and as long as the test file, and a family's working memory (a kernel
        family's test-by-train matrix) then stays one block's worth. Every family scores
        each row on its own, so blocks give the same scores as one pass."""
        if not self._fitted:
            raise RuntimeError(f"predictor {self.name!r} must be fitted before predict")
        X = np.asarray(X)
        if X.ndim != 2:
            raise ValueError(f"predict needs X of shape (n, d), got {X.shape}")
        scores = self._in_blocks(X, self._predict, "scores", call_on_empty=True)
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(f"predictor {self.name!r} produced NaN or infinite scores")
        return scores

    def predict_with_sd(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(scores, sd): the scores are `predict(X)`'s, bit for bit; sd > 0 is each arch's
        predictive standard deviation on the scores' scale, calibrated on the training
        rows by leave-one-out. Computed PREDICT_ROWS rows at a time, like the scores."""
        scores = self.predict(X)
        sd = self._in_blocks(np.asarray(X), self._predict_sd, "sds", call_on_empty=False)
        if not np.all(np.isfinite(sd) & (sd > 0)):
            raise RuntimeError(f"predictor {self.name!r} produced an sd that is not finite and > 0")
        return scores, sd

    def _in_blocks(self, X: np.ndarray, per_block, what: str, *, call_on_empty: bool) -> np.ndarray:
        """(n,) `per_block` of X's rows, PREDICT_ROWS rows at a time as float64 (X may be
        compact), each block's output checked to be one value per row. `call_on_empty`:
        an empty X still gets one (empty) call, as the scores always did."""
        out = np.empty(len(X), dtype=np.float64)
        for start in range(0, max(len(X), 1) if call_on_empty else len(X), PREDICT_ROWS):
            # Ctrl-C reaches a fit's scoring here: it runs in a task runner's thread,
            # which no signal interrupts.
            cancellation.check()
            block = np.asarray(X[start : start + PREDICT_ROWS], dtype=np.float64)
            part = np.asarray(per_block(block), dtype=np.float64).reshape(-1)
            if part.shape != (len(block),):
                raise RuntimeError(
                    f"predictor {self.name!r} returned {part.shape} {what} for {len(block)} archs"
                )
            out[start : start + len(block)] = part
        return out

    @classmethod
    def held_out_target(cls, y_train: np.ndarray, y_held_out: np.ndarray) -> np.ndarray:
        """Held-out labels as the target this family is fitted on would have them, had the
        model been fitted on `y_train`: the labels themselves for a raw target; for normal
        scores each label's position among the training labels (ties averaged as in
        `normal_scores`; between two training labels, half-way), through the same
        Phi^-1(r / (n + 1)). Not the normal score among all labelled archs: the model
        never saw that scale, so comparing with it would add a scale error to every sd."""
        y_held_out = np.asarray(y_held_out, dtype=np.float64)
        if cls.target != "normal_score":
            return y_held_out
        ordered = np.sort(np.asarray(y_train, dtype=np.float64))
        below = np.searchsorted(ordered, y_held_out, side="left")
        tied = np.searchsorted(ordered, y_held_out, side="right") - below
        return ndtri((below + (tied + 1) / 2.0) / (len(ordered) + 1.0))

    def target_in_score_units(self, target: np.ndarray) -> np.ndarray:
        """What a perfect model would score for archs with this (transformed) target: the
        scale the scores and their sd are on. The identity, except where a family rescales
        its scores (the ensembles' z-scored members)."""
        return np.asarray(target, dtype=np.float64)

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        """Fit on transformed targets; `self.shared_` holds fit_shared's statistics."""

    @classmethod
    def _fit_shared(cls, X: np.ndarray, Y: np.ndarray) -> object:
        """Families with `uses_shared = True` compute their statistics here, from the
        training rows and each task's transformed targets (columns of Y)."""
        raise NotImplementedError(f"{cls.__name__} sets uses_shared but has no _fit_shared")

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...

    def _predict_sd(self, X: np.ndarray) -> np.ndarray:
        """Calibrated predictive sd of each row of one block, on the scores' scale. Not
        abstract: a predictor without one (the tests' stand-ins) still fits and predicts;
        every registered family has one (tests/tasks/predict/predictors/test_contract.py)."""
        raise NotImplementedError(f"predictor {self.name!r} gives no predictive sd")
