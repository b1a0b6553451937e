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


def test_the_target_in_score_units_is_what_the_z_scored_members_estimate():
    """The ensemble scores z-scored members, so its sd is on that scale and so must the
    truth be: score minus target_in_score_units(t) is the mean of the members' errors,
    each divided by its z-scoring std."""
    X, y = _data()
    model = make_predictor("ensemble").fit(X[:70], y[:70])
    target = model._target(y[:70])
    members = [
        (member.predict(X[:70]) - target) / std
        for member, (_, std) in zip(model.members_, model.stats_, strict=True)
    ]
    np.testing.assert_allclose(
        model.predict(X[:70]) - model.target_in_score_units(target),
        np.mean(members, axis=0),
        atol=1e-10,
    )
