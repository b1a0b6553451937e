"""No leakage between a holdout's training and test rows, where it could happen: in the
splits and in the code that fits and scores on them. A recording predictor (a real,
registered predictor that remembers the rows it was given) runs through every holdout
kind, both in `ufo evaluate`'s path (tasks.predict.evaluate) and in the flow's holdout step
(tasks.predict.fitting.holdout_taus_for_task, what `holdout-<task>` runs)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from schemas.search_space import TASKS
from tasks.predict import encode, evaluate, fitting
from tasks.predict.evaluate import holdout_splits, parse_holdout
from tasks.predict.predictors import PREDICTORS
from tasks.predict.predictors.base import Predictor
from tests.factories import some_archs, train_records

N = 240
ARCHS = some_archs(N, seed=11)
HOLDOUTS = ["last:100", "kfold:5"]


class RecordingPredictor(Predictor):
    """Scores = a fixed projection of the features; every fit and predict call is recorded
    as (row ids, targets) on the class, in call order."""

    name = "recording"
    description = "test predictor that records the rows it sees"
    encoding = "onehot"
    target = "raw"
    calls: ClassVar[list[tuple[str, frozenset[int], tuple[float, ...]]]] = []
    row_of: ClassVar[dict[bytes, int]] = {}

    def _rows(self, X: np.ndarray) -> list[int]:
        return [self.row_of[row.tobytes()] for row in X]

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        rows = self._rows(X)
        self.calls.append(("fit", frozenset(rows), tuple(y)))
        self.projection = np.arange(1, X.shape[1] + 1, dtype=np.float64)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        self.calls.append(("predict", frozenset(self._rows(X)), ()))
        return X @ self.projection


@pytest.fixture
def recording(monkeypatch, tmp_path):
    features = encode.encode_archs_cached(ARCHS, "onehot", tmp_path).features
    row_of = {row.astype(np.float64).tobytes(): i for i, row in enumerate(features)}
    assert len(row_of) == N, "every arch has its own feature row"
    monkeypatch.setitem(PREDICTORS, RecordingPredictor.name, RecordingPredictor)
    monkeypatch.setattr(RecordingPredictor, "calls", [])
    monkeypatch.setattr(RecordingPredictor, "row_of", row_of)
    records = train_records(ARCHS, seed=4)
    ranks = np.array([[records[k][f"{t}_rank"] for t in TASKS] for k in records], dtype=float)
    return features, ranks


def _fit_predict_pairs(calls) -> list[tuple[frozenset, tuple, frozenset]]:
    """(fit rows, fit targets, predict rows) for each fitted model, in order."""
    assert [c[0] for c in calls] == ["fit", "predict"] * (len(calls) // 2), "fit, then predict"
    return [(calls[i][1], calls[i][2], calls[i + 1][1]) for i in range(0, len(calls), 2)]


def _expected_folds(spec: str) -> list[tuple[frozenset, frozenset]]:
    """The folds as the holdout spec defines them, written out independently."""
    holdout = parse_holdout(spec)
    if holdout.kind == "last":
        cut = N - holdout.size
        return [(frozenset(range(cut)), frozenset(range(cut, N)))]
    test_sets = [frozenset(test.tolist()) for _, test in holdout_splits(N, holdout, seed=0)]
    assert sorted(i for s in test_sets for i in s) == list(range(N)), "folds partition the rows"
    assert len(test_sets) == holdout.size and all(len(s) >= N // holdout.size for s in test_sets)
    return [(frozenset(range(N)) - s, s) for s in test_sets]


def _assert_no_leak(pairs, folds, ranks_of_task) -> None:
    assert len(pairs) == len(folds)
    for (fit_rows, fit_targets, predict_rows), (train_rows, test_rows) in zip(
        pairs, folds, strict=True
    ):
        assert fit_rows == train_rows, "fit saw exactly its fold's training rows"
        assert predict_rows == test_rows, "predict saw exactly its fold's test rows"
        assert not fit_rows & predict_rows
        # The targets are those rows' own labels, not labels from elsewhere.
        expected = {ranks_of_task[i] for i in train_rows}
        assert sorted(fit_targets) == sorted(ranks_of_task[i] for i in train_rows)
        assert set(fit_targets) == expected


@pytest.mark.parametrize("spec", HOLDOUTS)
def test_evaluate_fits_and_scores_each_fold_on_its_own_rows(recording, spec):
    features, ranks = recording
    evaluate.evaluate_predictor("recording", features, ranks, parse_holdout(spec))
    pairs = _fit_predict_pairs(RecordingPredictor.calls)
    folds = _expected_folds(spec)
    assert len(pairs) == len(folds) * len(TASKS)
    for t in range(len(TASKS)):  # evaluate: tasks outside, folds inside
        task_pairs = pairs[t * len(folds) : (t + 1) * len(folds)]
        _assert_no_leak(task_pairs, folds, ranks[:, t].tolist())


@pytest.mark.parametrize("spec", HOLDOUTS)
def test_the_flows_holdout_step_fits_and_scores_each_fold_on_its_own_rows(recording, spec):
    features, ranks = recording
    train = fitting.TrainingSet(
        features=features,
        ranks={task: ranks[:, t].astype(np.int64) for t, task in enumerate(TASKS)},
    )
    for t, task in enumerate(TASKS):
        RecordingPredictor.calls.clear()
        taus = fitting.holdout_taus_for_task(task, "recording", train, parse_holdout(spec))
        folds = _expected_folds(spec)
        assert len(taus) == len(folds)
        _assert_no_leak(_fit_predict_pairs(RecordingPredictor.calls), folds, ranks[:, t].tolist())
