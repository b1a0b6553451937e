"""The base class's helpers for the predictive sd: held-out labels on the training target's
scale, and the one calibration factor (the contract itself is test_contract.py)."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import cancellation
from tasks.predict.predictors import PREDICTORS, base
from tasks.predict.predictors.base import Predictor, calibration_scale, normal_scores

NORMAL, RAW = PREDICTORS["ridge"], PREDICTORS["gpnas"]


def test_a_held_out_label_equal_to_a_training_label_gets_its_normal_score():
    y_train = np.array([40.0, 10.0, 30.0, 20.0])
    held = NORMAL.held_out_target(y_train, y_train[[2, 0]])
    np.testing.assert_array_equal(held, normal_scores(y_train)[[2, 0]])


def test_a_label_between_two_training_labels_sits_half_way_in_rank():
    from scipy.special import ndtri

    y_train = np.array([40.0, 10.0, 30.0, 20.0])
    held = NORMAL.held_out_target(y_train, np.array([5.0, 25.0, 99.0]))
    np.testing.assert_allclose(held, ndtri(np.array([0.5, 2.5, 4.5]) / 5.0))


def test_ties_are_averaged_as_in_normal_scores():
    y_train = np.array([1.0, 2.0, 2.0, 3.0])
    held = NORMAL.held_out_target(y_train, np.array([2.0]))
    assert held[0] == normal_scores(y_train)[1] == pytest.approx(0.0)


def test_a_raw_target_family_takes_held_out_labels_as_they_are():
    labels = np.array([3.0, 100.0, 7.0])
    np.testing.assert_array_equal(RAW.held_out_target(np.arange(10.0), labels), labels)


def test_the_calibration_scale_gives_standardised_residuals_unit_rms():
    rng = np.random.default_rng(0)
    raw_sd = rng.uniform(0.5, 2.0, size=200)
    residuals = 3.0 * raw_sd * rng.normal(size=200)
    scale = calibration_scale(residuals, raw_sd)
    assert np.sqrt(np.mean((residuals / (scale * raw_sd)) ** 2)) == pytest.approx(1.0)
    assert calibration_scale(np.zeros(5), np.ones(5)) > 0  # an interpolating fit keeps sd > 0


class _StopsAfterOneBlock(Predictor):
    """Scores every arch 0 with sd 1; asks for a stop (as Ctrl-C does) after the first
    block of scores (`stop_in="scores"`) or of sds (`"sd"`)."""

    name, description = "stops", "a test stand-in"

    def __init__(self, stop, stop_in: str) -> None:
        super().__init__()
        self.stop, self.stop_in, self.blocks = stop, stop_in, {"scores": [], "sd": []}

    def _fit(self, X, y) -> None:
        pass

    def _predict(self, X):
        return self._block(X, "scores", 0.0)

    def _predict_sd(self, X):
        return self._block(X, "sd", 1.0)

    def _block(self, X, kind, value):
        self.blocks[kind].append(len(X))
        if kind == self.stop_in:
            self.stop()
        return np.full(len(X), value)


@pytest.mark.parametrize(("stop_in", "expected"), [("scores", [4]), ("sd", [4, 4, 4, 4, 4])])
def test_a_stop_requested_mid_scoring_ends_it_at_the_next_block(
    monkeypatch, stop_request, stop_in, expected
):
    monkeypatch.setattr(base, "PREDICT_ROWS", 4)
    X = np.zeros((20, 3), dtype=np.uint8)  # 5 blocks
    predictor = _StopsAfterOneBlock(stop_request, stop_in).fit(X, np.arange(20.0))
    with pytest.raises(cancellation.Cancelled):
        predictor.predict_with_sd(X)
    assert predictor.blocks["scores"] == expected  # every score block before the sds
    assert predictor.blocks["sd"] == ([] if stop_in == "scores" else [4])
