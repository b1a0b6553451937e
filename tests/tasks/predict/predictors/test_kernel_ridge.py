"""Kernel ridge family: kernel choice by leave-one-out, unpenalised intercept (the
contract is tests/tasks/predict/predictors/test_contract.py)."""

from __future__ import annotations

import numpy as np

from tasks.predict.predictors import make_predictor
from tasks.predict.predictors.kernel_ridge import DEFAULT_KERNELS, KernelRidgeModel, KernelSpec
from tests.factories import labelled_onehot


def _data(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return labelled_onehot(n, seed)


def test_the_kernel_is_chosen_from_the_default_kernels():
    X, y = _data()
    assert make_predictor("kernel_ridge").fit(X[:80], y[:80]).model_.kernel_ in DEFAULT_KERNELS


def test_linear_target_prefers_linear_kernel_and_intercept_is_kept():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(60, 4))
    y = X @ np.array([1.0, -2.0, 0.5, 0.0]) + 10.0  # large offset: intercept must be unpenalised
    model = KernelRidgeModel((KernelSpec("linear"), KernelSpec("rbf", 1.0))).fit(X, y)
    assert model.kernel_.kind == "linear"
    assert np.allclose(model.predict(X[:5]), y[:5], atol=0.05)
