"""Ensemble: chunked prediction of a large batch equals scoring it in pieces (the
contract is tests/tasks/predict/predictors/test_contract.py)."""

from __future__ import annotations

import numpy as np

from schemas.encodings import get_encoding
from schemas.search_space import sample_archs
from tasks.predict.predictors import make_predictor
from tests.factories import labelled_onehot


def _data(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return labelled_onehot(n, seed)


def test_large_batch_is_scored_in_chunks_consistently():
    X, y = _data()
    model = make_predictor("ensemble").fit(X[:70], y[:70])
    big = get_encoding("onehot").build(
        sample_archs(12_000, np.random.default_rng(9))
    )  # > one chunk
    whole = model.predict(big)
    assert np.allclose(whole[-50:], model.predict(big[-50:]))
