"""Ensemble: contract, bit-for-bit determinism, members fitted on training rows only,
and chunked prediction of a large batch equals scoring it in pieces."""

from __future__ import annotations

import numpy as np

from schemas.encodings import get_encoding
from schemas.search_space import sample_archs
from tasks.predictors import DEFAULT_PREDICTOR, PREDICTORS, make_predictor
from tests.factories import labelled_onehot


def _data(n: int = 100, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return labelled_onehot(n, seed)


def test_contract_and_determinism():
    X, y = _data()
    a = make_predictor("ensemble", seed=0).fit(X[:70], y[:70]).predict(X[70:])
    b = make_predictor("ensemble", seed=0).fit(X[:70], y[:70]).predict(X[70:])
    assert a.shape == (30,) and np.all(np.isfinite(a))
    assert a.tobytes() == b.tobytes()
    assert np.corrcoef(a, y[70:])[0, 1] > 0.5


def test_member_choices_depend_on_training_rows_only():
    X, y = _data()
    y_other = y.copy()
    y_other[70:] = np.roll(y_other[70:], 3)
    first = make_predictor("ensemble").fit(X[:70], y[:70])
    second = make_predictor("ensemble").fit(X[:70], y_other[:70])
    assert first.stats_ == second.stats_
    assert first.predict(X).tobytes() == second.predict(X).tobytes()


def test_large_batch_is_scored_in_chunks_consistently():
    X, y = _data()
    model = make_predictor("ensemble").fit(X[:70], y[:70])
    big = get_encoding("onehot").build(
        sample_archs(12_000, np.random.default_rng(9))
    )  # > one chunk
    whole = model.predict(big)
    assert np.allclose(whole[-50:], model.predict(big[-50:]))


def test_default_is_registered_with_descriptions():
    assert DEFAULT_PREDICTOR in PREDICTORS
    assert all(cls.description and "\n" not in cls.description for cls in PREDICTORS.values())
