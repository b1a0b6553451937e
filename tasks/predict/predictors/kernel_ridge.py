"""Kernel ridge on the per-layer one-hot encoding, with the kernel (linear, or RBF at
one of several widths) and alpha chosen per task by exact leave-one-out on the
training rows only."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from tasks.predict.predictors.base import Predictor, calibration_scale
from tasks.predict.predictors.eigh_cache import gram_eigh
from tasks.predict.predictors.ridge import ALPHAS, loo_kernel_ridge

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

    def diagonal(self, A: np.ndarray) -> np.ndarray:
        """K(a, a) for each row a of A, without the (rows x rows) matrix."""
        if self.kind == "rbf":
            return np.ones(len(A))
        squares = np.einsum("ij,ij->i", A, A)
        if self.kind == "linear":
            return squares
        fourth = np.einsum("ij,ij->i", A * A, A * A)
        return squares + self.gamma * 0.5 * (squares * squares - fourth)

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
        self._calibrate_sd(fit)
        return self

    def _calibrate_sd(self, fit) -> None:
        """The GP reading of kernel ridge (noise sigma^2, prior sigma^2 / alpha on the
        function, flat intercept): the LOO predictive variance of row i is
        sigma^2 / (1 - H_ii), and 1 - H_ii comes with the LOO fit, so the scale factor
        sigma needs no refit. The LOO residuals and sds stay for the ensembles' own
        calibration."""
        self.loo_residuals_ = fit.loo_residuals
        raw_sd = 1.0 / np.sqrt(fit.hat_complement)
        self.sd_scale_ = calibration_scale(self.loo_residuals_, raw_sd)
        self.loo_sd_ = self.sd_scale_ * raw_sd

    def _posterior_basis(self) -> tuple[np.ndarray, np.ndarray, float]:
        """(V / sqrt(evals + alpha), column means of K, mean of K) of the training Gram.
        Rebuilt from the fitted rows, not kept: an n x n matrix per model would be most of
        a stored search fit's size, and the eigendecomposition is the one the fit made
        (the process-wide cache, tasks/predict/predictors/eigh_cache.py), so in the fitting
        process it costs the Gram product and a lookup."""
        gram = self.kernel_(self.X_, self.X_)
        evals, evecs = gram_eigh(centre_gram(gram))
        basis = evecs / np.sqrt(np.clip(evals, 0.0, None) + self.alpha_)
        return basis, gram.mean(axis=0), float(gram.mean())

    def predict_sd(self, X: np.ndarray) -> np.ndarray:
        """sigma sqrt(1 + h(z)), h(z) = 1/n + (kc(z, z) - kc_z' (Kc + alpha I)^-1 kc_z) / alpha
        with kc the kernel centred on the training rows: the GP posterior variance of the
        function in units of the noise, plus the intercept's share (as ridge's leverage)."""
        basis, column_mean, grand_mean = self._posterior_basis()

        def sd(rows: np.ndarray) -> np.ndarray:
            cross = self.kernel_(rows, self.X_)
            row_mean = cross.mean(axis=1)
            cross -= row_mean[:, None] + column_mean[None, :] - grand_mean  # kc_z
            prior = self.kernel_.diagonal(rows) - 2.0 * row_mean + grand_mean  # kc(z, z)
            explained = np.square(cross @ basis).sum(axis=1)
            leverage = 1.0 / len(self.X_) + np.clip(prior - explained, 0.0, None) / self.alpha_
            return self.sd_scale_ * np.sqrt(1.0 + leverage)

        return sd(X)  # the base class feeds at most PREDICT_ROWS rows at a time

    def loo_errors(self) -> tuple[np.ndarray, np.ndarray]:
        """(LOO residuals, calibrated LOO sds) of the training rows."""
        return self.loo_residuals_, self.loo_sd_

    def describe(self) -> str:
        return f"{self.kernel_} alpha={self.alpha_:.3g}"

    def predict(self, X: np.ndarray) -> np.ndarray:
        def score(rows: np.ndarray) -> np.ndarray:
            return self.kernel_.score(rows, self.X_, self.dual_coef_, self.primal_) + self.offset_

        return score(X)  # at most PREDICT_ROWS rows: the base class blocks them


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

    def _predict_sd(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_sd(X)
