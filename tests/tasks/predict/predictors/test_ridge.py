"""Ridge family: the exact leave-one-out machinery (the fit/predict
contract is tests/tasks/predict/predictors/test_contract.py; leakage, tests/tasks/predict/test_leakage.py)."""

from __future__ import annotations

import numpy as np

from tasks.predict.predictors import make_predictor
from tasks.predict.predictors.kernel_ridge import KernelRidgeModel, KernelSpec
from tasks.predict.predictors.ridge import loo_kernel_ridge
from tests.factories import labelled_onehot


def _data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return labelled_onehot(n, seed)


def test_loo_residuals_match_brute_force_refits():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 5)), rng.normal(size=30)
    alpha = 0.7
    Xc, yc = X - X.mean(0), y - y.mean()
    fit = loo_kernel_ridge(Xc @ Xc.T, yc, (alpha,))
    errors = []
    for i in range(30):  # refit ridge with intercept on the other 29 rows
        keep = np.arange(30) != i
        xm, ym = X[keep].mean(0), y[keep].mean()
        A = X[keep] - xm
        w = np.linalg.solve(A.T @ A + alpha * np.eye(5), A.T @ (y[keep] - ym))
        errors.append(y[i] - ((X[i] - xm) @ w + ym))
    assert np.isclose(fit.loo_mse, np.mean(np.square(errors)))
    np.testing.assert_allclose(fit.loo_residuals, errors, rtol=1e-9, atol=1e-12)


def test_ridge_sd_in_the_primal_equals_linear_kernel_ridge_in_the_dual():
    """Ridge keeps its leverage as a d x d factor, kernel ridge as the n x n posterior:
    with the same (linear) kernel and alpha the two must give the same calibrated sd."""
    X, y = _data(n=80)
    ridge = make_predictor("ridge").fit(X[:60], y[:60])
    dual = KernelRidgeModel((KernelSpec("linear"),), (ridge.alpha_,))
    dual.fit(X[:60], ridge._target(y[:60]))
    np.testing.assert_allclose(ridge.predict_with_sd(X)[1], dual.predict_sd(X), rtol=1e-7)
