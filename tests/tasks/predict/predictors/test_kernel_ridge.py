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


def test_the_loo_sd_is_the_sd_of_a_fit_without_that_row():
    """The GP reading behind the sd: the LOO predictive variance of row i,
    sigma^2 / (1 - H_ii) from the one fit, equals the predictive variance at x_i of a
    refit without row i (same kernel and alpha); and the LOO residuals are that refit's."""
    X, y = _data(n=30, seed=3)
    for spec, alpha in ((KernelSpec("rbf", 0.01), 0.3), (KernelSpec("interact", 0.01), 2.0)):
        model = KernelRidgeModel((spec,), (alpha,)).fit(X, y)
        residuals, loo_sd = model.loo_errors()
        for i in range(len(X)):
            keep = np.arange(len(X)) != i
            refit = KernelRidgeModel((spec,), (alpha,)).fit(X[keep], y[keep])
            raw_sd = refit.predict_sd(X[i : i + 1])[0] / refit.sd_scale_
            assert np.isclose(loo_sd[i] / model.sd_scale_, raw_sd, rtol=1e-7)
            assert np.isclose(residuals[i], y[i] - refit.predict(X[i : i + 1])[0], atol=1e-8)


def test_the_sd_at_a_training_row_is_its_leverage():
    """At the training rows the posterior basis of predict time and the hat matrix of
    fit time must agree: sd_i = sigma sqrt(1 + H_ii)."""
    X, y = _data(n=60)
    model = KernelRidgeModel().fit(X, y)
    _, loo_sd = model.loo_errors()
    hat = 1.0 - (model.sd_scale_ / loo_sd) ** 2
    np.testing.assert_allclose(model.predict_sd(X), model.sd_scale_ * np.sqrt(1.0 + hat), rtol=1e-8)
