"""Kernel ridge family: kernel choice by LOO, contract, determinism, no peeking."""

from __future__ import annotations

import numpy as np

from tasks.predictors import make_predictor
from tasks.predictors.kernel_ridge import DEFAULT_KERNELS, KernelRidgeModel, KernelSpec
from tests.factories import labelled_onehot


def _data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return labelled_onehot(n, seed)


def test_contract_determinism_and_chunking():
    X, y = _data()
    a = make_predictor("kernel_ridge", seed=1).fit(X[:80], y[:80])
    b = make_predictor("kernel_ridge", seed=1).fit(X[:80], y[:80])
    pa = a.predict(X[80:])
    assert pa.shape == (40,) and np.all(np.isfinite(pa))
    assert pa.tobytes() == b.predict(X[80:]).tobytes()
    assert a.model_.kernel_ in DEFAULT_KERNELS
    # Row-at-a-time scoring equals the batched one: predictions are per-row.
    assert np.allclose([a.predict(X[i : i + 1])[0] for i in range(80, 90)], pa[:10])


def test_choices_depend_on_training_rows_only():
    X, y = _data()
    y_other = y.copy()
    y_other[80:] = np.roll(y_other[80:], 7)
    first = make_predictor("kernel_ridge").fit(X[:80], y[:80]).model_
    second = make_predictor("kernel_ridge").fit(X[:80], y_other[:80]).model_
    assert (first.kernel_, first.alpha_) == (second.kernel_, second.alpha_)


def test_linear_target_prefers_linear_kernel_and_intercept_is_kept():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 10.0  # large offset: intercept must be unpenalised
    model = KernelRidgeModel((KernelSpec("linear"), KernelSpec("rbf", 1.0))).fit(X, y)
    assert model.kernel_.kind == "linear"
    assert np.allclose(model.predict(X[:5]), y[:5], atol=0.05)
