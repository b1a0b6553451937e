"""Kernel ridge on the per-layer one-hot encoding, with the kernel (linear, or RBF at
one of several widths) and alpha chosen per task by exact leave-one-out on the
training rows only."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tasks.predict.predictors.base import Predictor
from tasks.predict.predictors.ridge import ALPHAS, chunked, loo_kernel_ridge

log = logging.getLogger(__name__)

# Squared distances between one-hot archs are 2 x (number of differing choices), up
# to ~50; these widths span "almost linear" to "only near neighbours matter".
RBF_GAMMAS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08)


@dataclass(frozen=True)
class KernelSpec:
    """A kernel on feature rows: 'linear' (x.z), 'rbf' (exp(-gamma |x-z|^2)) or
    'interact' (x.z + gamma * sum_{i<j} x_i x_j z_i z_j: ridge on all pairwise products
    of features, computed without materialising the ~2,800 product columns)."""

    kind: str
    gamma: float = 0.0

    def __call__(self, A: np.ndarray, B: np.ndarray) -> np.ndarray:
        cross = A @ B.T
        if self.kind == "linear":
            return cross
        if self.kind == "interact":
            # sum_{i<j} x_i x_j z_i z_j = ((x.z)^2 - sum_i x_i^2 z_i^2) / 2, for any real features
            return cross + self.gamma * 0.5 * (cross * cross - (A * A) @ (B * B).T)
        cross *= -2.0  # in place from here on: this block is the predict-time memory cost
        cross += (A * A).sum(1)[:, None]
        cross += (B * B).sum(1)[None, :]
        np.maximum(cross, 0.0, out=cross)
        cross *= -self.gamma
        return np.exp(cross, out=cross)

    def primal(self, B: np.ndarray, coef: np.ndarray) -> tuple | None:
        """sum_i coef_i K(., b_i) as explicit weights for the polynomial kernels, so
        scoring costs O(d^2) per row instead of O(n_train): (w, M, v) with
        f(z) = z.w + gamma/2 (z'Mz - (z*z).v). None for RBF (no finite primal)."""
        if self.kind == "rbf":
            return None
        w = B.T @ coef
        if self.kind == "linear":
            return (w, None, None)
        return (w, B.T @ (coef[:, None] * B), (B * B).T @ coef)

    def score(
        self, rows: np.ndarray, B: np.ndarray, coef: np.ndarray, primal: tuple | None
    ) -> np.ndarray:
        if primal is None:
            return self(rows, B) @ coef
        w, M, v = primal
        out = rows @ w
        if M is not None:
            out += self.gamma * 0.5 * (np.einsum("ij,ij->i", rows @ M, rows) - (rows * rows) @ v)
        return out

    def __str__(self) -> str:
        return self.kind if self.kind == "linear" else f"{self.kind}(gamma={self.gamma:g})"


DEFAULT_KERNELS: tuple[KernelSpec, ...] = (
    KernelSpec("linear"),
    *(KernelSpec("rbf", g) for g in RBF_GAMMAS),
)


def centre_gram(gram: np.ndarray) -> np.ndarray:
    """Double-centre a Gram matrix: kernel ridge with an unpenalised intercept."""
    row = gram.mean(axis=0)
    return gram - row[None, :] - row[:, None] + row.mean()


class KernelRidgeModel:
    """Fits each candidate kernel with its LOO-best alpha, keeps the lowest LOO MSE.

    The intercept is unpenalised: fit on the double-centred Gram and centred targets.
    The dual coefficients then sum to zero, so a new row scores K(z, X) c + offset
    with offset = mean(y) - mean(K c), no centring of test kernels needed."""

    def __init__(
        self, kernels: tuple[KernelSpec, ...] = DEFAULT_KERNELS, alphas: tuple[float, ...] = ALPHAS
    ):
        self.kernels, self.alphas = kernels, alphas

    def fit(self, X: np.ndarray, y: np.ndarray) -> KernelRidgeModel:
        self.X_ = X.copy()
        y_mean, best = float(y.mean()), None
        for spec in self.kernels:
            gram = spec(X, X)
            fit = loo_kernel_ridge(centre_gram(gram), y - y_mean, self.alphas)
            if best is None or fit.loo_mse < best[1].loo_mse:  # strict: first of ties wins
                best = (spec, fit, gram)
        self.kernel_, fit, gram = best
        self.alpha_, self.dual_coef_, self.loo_mse_ = fit.alpha, fit.dual_coef, fit.loo_mse
        self.offset_ = y_mean - float(np.mean(gram @ self.dual_coef_))
        self.primal_ = self.kernel_.primal(self.X_, self.dual_coef_)
        return self

    def describe(self) -> str:
        return f"{self.kernel_} alpha={self.alpha_:.3g}"

    def predict(self, X: np.ndarray) -> np.ndarray:
        def score(rows: np.ndarray) -> np.ndarray:
            return self.kernel_.score(rows, self.X_, self.dual_coef_, self.primal_) + self.offset_

        return chunked(score, X)


class KernelRidgePredictor(Predictor):
    name = "kernel_ridge"
    description = (
        "kernel ridge on per-layer one-hot, linear or RBF kernel and alpha per task by exact LOO"
    )
    encoding = "onehot"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = KernelRidgeModel().fit(X, y)
        log.debug("kernel_ridge: %s alpha %.3g", self.model_.kernel_, self.model_.alpha_)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)
