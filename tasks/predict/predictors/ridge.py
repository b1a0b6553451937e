"""Ridge regression on the per-layer one-hot encoding, alpha chosen per task by exact
leave-one-out on the training rows.

The LOO machinery here works on any Gram matrix (a linear kernel is ridge's dual), so
the kernel and interaction families reuse it: one eigendecomposition of the Gram
matrix gives the exact LOO residuals for every alpha at once."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tasks.predict.predictors.base import Predictor, calibration_scale
from tasks.predict.predictors.eigh_cache import gram_eigh

log = logging.getLogger(__name__)

# Log-spaced grid, wide enough that no task's LOO optimum sits on an edge in practice.
ALPHAS: tuple[float, ...] = tuple(float(a) for a in np.logspace(-4, 3, 29))


@dataclass(frozen=True)
class LooFit:
    """The winning alpha of one Gram matrix, its dual coefficients and its LOO MSE, and
    1 - H_ii per training row (H the hat matrix at that alpha) for the predictive sd."""

    alpha: float
    dual_coef: np.ndarray
    loo_mse: float
    hat_complement: np.ndarray

    @property
    def loo_residuals(self) -> np.ndarray:
        """y_i minus the prediction of the fit without row i: a c_i / (1 - H_ii)."""
        return self.alpha * self.dual_coef / self.hat_complement


def loo_kernel_ridge(gram: np.ndarray, y: np.ndarray, alphas: tuple[float, ...] = ALPHAS) -> LooFit:
    """Kernel ridge with an unpenalised intercept, alpha picked by exact LOO MSE.

    `gram` must be double-centred and `y` centred. With A = K + aI and c = A^-1 y the
    hat matrix is 11'/n + K A^-1, so the LOO residual of row i is
    a c_i / (1 - H_ii) = c_i / ((A^-1)_ii - 1/(n a)). The eigendecomposition is shared
    with every other fit of the same Gram in this process (tasks/predict/predictors/eigh_cache.py)."""
    evals, evecs = gram_eigh(gram)
    evals = np.clip(evals, 0.0, None)  # round-off can make a PSD Gram slightly negative
    proj = evecs.T @ y  # (n,)
    alpha_arr = np.asarray(alphas, dtype=np.float64)
    inv = 1.0 / (evals[:, None] + alpha_arr[None, :])  # (n, m)
    coefs = evecs @ (proj[:, None] * inv)  # (n, m): dual coefficients per alpha
    diag = (evecs**2) @ inv  # (n, m): diagonal of A^-1 per alpha
    diag -= 1.0 / (len(y) * alpha_arr[None, :])  # the intercept's share of the hat matrix
    mse = np.mean((coefs / diag) ** 2, axis=0)
    best = int(np.argmin(mse))  # argmin takes the first of ties: deterministic
    alpha = float(alpha_arr[best])
    return LooFit(alpha, coefs[:, best].copy(), float(mse[best]), alpha * diag[:, best])


def fit_ridge(
    X: np.ndarray, y: np.ndarray, alphas: tuple[float, ...] = ALPHAS
) -> tuple[np.ndarray, float, float]:
    """Centred ridge via its dual: returns (weights, intercept, chosen alpha)."""
    x_mean, y_mean = X.mean(axis=0), float(y.mean())
    Xc = X - x_mean
    fit = loo_kernel_ridge(Xc @ Xc.T, y - y_mean, alphas)
    weights = Xc.T @ fit.dual_coef
    return weights, y_mean - float(x_mean @ weights), fit.alpha


class RidgePredictor(Predictor):
    name = "ridge"
    description = "ridge on per-layer one-hot, normal-score targets, alpha per task by exact LOO"
    encoding = "onehot"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.weights_, self.intercept_, self.alpha_ = fit_ridge(X, y)
        log.debug("ridge: alpha %.3g", self.alpha_)
        self._calibrate_sd(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return X @ self.weights_ + self.intercept_

    def _calibrate_sd(self, X: np.ndarray, y: np.ndarray) -> None:
        """Bayesian ridge's predictive variance, sigma^2 (1 + h(z)) with the leverage
        h(z) = 1/n + (z - mean)' (Xc'Xc + alpha I)^-1 (z - mean) (1/n: the unpenalised
        intercept). In the primal, d x d (75 x 75 for one-hot) is small to keep; the same
        leverage at a training row is H_ii, so the LOO residual r_i / (1 - H_ii) and its
        raw sd 1 / sqrt(1 - H_ii) need no refit."""
        self.x_mean_, self.n_train_ = X.mean(axis=0), len(X)
        Xc = X - self.x_mean_
        evals, evecs = np.linalg.eigh(Xc.T @ Xc)
        # |(z - mean) @ factor|^2 = (z - mean)' (Xc'Xc + alpha I)^-1 (z - mean)
        self.leverage_factor_ = evecs / np.sqrt(np.clip(evals, 0.0, None) + self.alpha_)
        hat_complement = 1.0 - self._leverage(X)
        loo_residuals = (y - self._predict(X)) / hat_complement
        self.sd_scale_ = calibration_scale(loo_residuals, 1.0 / np.sqrt(hat_complement))

    def _leverage(self, X: np.ndarray) -> np.ndarray:
        projected = (X - self.x_mean_) @ self.leverage_factor_
        return 1.0 / self.n_train_ + np.einsum("ij,ij->i", projected, projected)

    def _predict_sd(self, X: np.ndarray) -> np.ndarray:
        return self.sd_scale_ * np.sqrt(1.0 + self._leverage(X))
