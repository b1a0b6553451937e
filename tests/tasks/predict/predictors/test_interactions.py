"""Interaction family: the kernel equals explicit pairwise products, primal and dual
scoring agree (the contract is tests/tasks/predict/predictors/test_contract.py)."""

from __future__ import annotations

from itertools import combinations

import numpy as np

from schemas.encodings import get_encoding
from schemas.search_space import sample_archs
from tasks.predict.predictors import make_predictor
from tasks.predict.predictors.interactions import INTERACTION_KERNELS
from tasks.predict.predictors.kernel_ridge import KernelSpec


def _data(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = get_encoding("onehot").build(sample_archs(n, rng))
    # A planted interaction: two layer choices matter only together.
    signal = X[:, 5] * X[:, 11] + 0.5 * X[:, 17] + 0.2 * rng.normal(size=n)
    return X, np.argsort(np.argsort(signal)).astype(float)


def test_interact_kernel_equals_explicit_product_features():
    X, _ = _data(n=12)
    pairs = np.stack([X[:, i] * X[:, j] for i, j in combinations(range(X.shape[1]), 2)], axis=1)
    gamma = 0.3
    explicit = X @ X.T + gamma * pairs @ pairs.T
    assert np.allclose(KernelSpec("interact", gamma)(X, X), explicit)


def test_a_planted_interaction_is_fitted_with_an_interaction_kernel():
    X, y = _data()
    model = make_predictor("interactions").fit(X[:70], y[:70]).model_
    assert model.kernel_ in INTERACTION_KERNELS and model.kernel_.kind == "interact"


def test_primal_scoring_equals_dual_scoring():
    rng = np.random.default_rng(4)
    X, Z, coef = rng.normal(size=(20, 6)), rng.normal(size=(9, 6)), rng.normal(size=20)
    for spec in (KernelSpec("linear"), KernelSpec("interact", 0.2)):
        dual = spec(Z, X) @ coef
        assert np.allclose(spec.score(Z, X, coef, spec.primal(X, coef)), dual)
