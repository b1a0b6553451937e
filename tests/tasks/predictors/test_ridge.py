"""Ridge family: exact LOO machinery, fit/predict contract, determinism, no peeking."""

from __future__ import annotations

import numpy as np

from tasks.predictors import make_predictor
from tasks.predictors.ridge import ALPHAS, chunked, loo_kernel_ridge
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


def test_fit_predict_contract_and_determinism():
    X, y = _data()
    a = make_predictor("ridge", seed=3).fit(X[:80], y[:80]).predict(X[80:])
    b = make_predictor("ridge", seed=3).fit(X[:80], y[:80]).predict(X[80:])
    assert a.shape == (40,) and np.all(np.isfinite(a))
    assert a.tobytes() == b.tobytes()
    assert np.corrcoef(a, y[80:])[0, 1] > 0.5  # learns the planted signal


def test_choices_depend_on_training_rows_only():
    X, y = _data()
    y_other = y.copy()
    y_other[80:] = y_other[80:][::-1]  # other rows' labels change; training rows do not
    first = make_predictor("ridge").fit(X[:80], y[:80])
    second = make_predictor("ridge").fit(X[:80], y_other[:80])
    assert first.alpha_ == second.alpha_ and first.alpha_ in ALPHAS
    assert first.predict(X).tobytes() == second.predict(X).tobytes()


def test_chunked_prediction_equals_one_pass():
    X, _ = _data(n=50)
    w = np.arange(X.shape[1], dtype=float)
    assert np.array_equal(chunked(lambda rows: rows @ w, X, rows=7), X @ w)
