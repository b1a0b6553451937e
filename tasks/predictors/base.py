"""The one predictor contract: fit(X, y) on an encoding and ranks, predict(X) -> scores.

Scores only need to order archs (higher score = higher rank value); the pipeline turns
them into ranks 0..N-1. The base class owns the target normalisation so every family
treats ranks the same way."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Literal, Self

import numpy as np
from scipy.special import ndtri
from scipy.stats import rankdata

TargetTransform = Literal["raw", "normal_score"]


def normal_scores(y: np.ndarray) -> np.ndarray:
    """Rank-based inverse normal transform: rank r (1..n, ties averaged) -> Phi^-1(r/(n+1))."""
    y = np.asarray(y, dtype=np.float64)
    return ndtri(rankdata(y) / (len(y) + 1.0))


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

    def fit(self, X: np.ndarray, y: np.ndarray) -> Self:
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
        target = normal_scores(y) if self.target == "normal_score" else y
        self._fit(X, target)
        self._fitted = True
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        if not self._fitted:
            raise RuntimeError(f"predictor {self.name!r} must be fitted before predict")
        X = np.asarray(X, dtype=np.float64)
        scores = np.asarray(self._predict(X), dtype=np.float64).reshape(-1)
        if scores.shape != (len(X),):
            raise RuntimeError(
                f"predictor {self.name!r} returned {scores.shape} scores for {len(X)} archs"
            )
        if not np.all(np.isfinite(scores)):
            raise RuntimeError(f"predictor {self.name!r} produced NaN or infinite scores")
        return scores

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None: ...

    @abstractmethod
    def _predict(self, X: np.ndarray) -> np.ndarray: ...
