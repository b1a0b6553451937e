"""shared_relevance (issue 12): the cross-task relevance scale, its recipe, no leakage of
held-out labels into it through any fold loop, and the eigendecompositions it shares."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from schemas.encodings import get_encoding
from schemas.search_space import TASKS
from tasks.predict.evaluate import (
    evaluate_predictor,
    fold_shared,
    fold_taus,
    holdout_splits,
    parse_holdout,
)
from tasks.predict.fitting import (
    TrainingSet,
    fit_shared_stats,
    fit_task_model,
    holdout_taus_for_task,
)
from tasks.predict.predictors import (
    PREDICTORS,
    get_predictor_class,
    make_predictor,
)
from tasks.predict.predictors.base import Predictor, normal_scores
from tasks.predict.predictors.eigh_cache import eigh_cache_limit
from tasks.predict.predictors.interactions import INTERACTION_KERNELS
from tasks.predict.predictors.kernel_ridge import DEFAULT_KERNELS
from tasks.predict.predictors.shared_relevance import SharedRelevance, SharedRelevancePredictor
from tests.factories import labelled_onehot, some_archs

NAME = "shared_relevance"


def _data(n: int = 90, tasks: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One-hot archs and `tasks` related rank targets (one planted signal, task noise)."""
    X, y = labelled_onehot(n, seed)
    rng = np.random.default_rng(seed + 1)
    columns = [y + rng.normal(scale=8.0 * t, size=n) for t in range(tasks)]
    return X, np.column_stack([np.argsort(np.argsort(c)) for c in columns]).astype(float)


def _record_scales(monkeypatch) -> list[np.ndarray]:
    """Every scale fit_shared computes, in call order (the real computation runs)."""
    seen: list[np.ndarray] = []
    real = SharedRelevancePredictor._fit_shared.__func__

    def recording(cls, X, Y):
        shared = real(cls, X, Y)
        seen.append(np.array(shared.scale))
        return shared

    monkeypatch.setattr(SharedRelevancePredictor, "_fit_shared", classmethod(recording))
    return seen


def _change_rows(Y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The same labels except on `rows`, where every task's labels are reversed."""
    changed = Y.copy()
    changed[rows] = Y[rows][::-1]
    assert not np.array_equal(changed[rows], Y[rows])
    return changed


def test_scale_is_the_rms_over_tasks_of_each_tasks_ridge_coefficients():
    X, Y = _data()
    shared = get_predictor_class(NAME).fit_shared(X, Y)
    W = np.column_stack([make_predictor("ridge").fit(X, Y[:, t]).weights_ for t in range(3)])
    rms = np.sqrt((W**2).mean(axis=1))
    assert np.allclose(shared.scale, rms / rms.mean())
    assert shared.scale.mean() == pytest.approx(1.0)
    assert len(shared.alphas) == 3


def test_every_task_uses_the_shared_scale_in_both_relevance_members():
    X, Y = _data()
    shared = get_predictor_class(NAME).fit_shared(X, Y)
    for t in range(3):
        model = make_predictor(NAME).fit(X, Y[:, t], shared=shared)
        relevance = [m for m in model.members_ if hasattr(m, "scale_")]
        assert len(relevance) == 2
        assert all(m.scale_ is shared.scale for m in relevance)
    # ensemble's per-task scale is a different thing: one task's coefficients only
    own = make_predictor("ensemble").fit(X, Y[:, 2])
    assert not np.allclose(own.members_[2].scale_, shared.scale)


def test_contract_determinism_and_learning():
    X, Y = _data(120)
    shared = get_predictor_class(NAME).fit_shared(X[:90], Y[:90])
    a = make_predictor(NAME).fit(X[:90], Y[:90, 0], shared=shared).predict(X[90:])
    b = make_predictor(NAME).fit(X[:90], Y[:90, 0], shared=shared).predict(X[90:])
    assert a.shape == (30,) and a.tobytes() == b.tobytes()
    assert np.corrcoef(a, Y[90:, 0])[0, 1] > 0.5


def test_the_shared_statistics_are_required_and_only_where_used():
    X, Y = _data()
    with pytest.raises(ValueError, match="shares statistics across tasks"):
        make_predictor(NAME).fit(X, Y[:, 0])
    with pytest.raises(ValueError, match="takes no shared statistics"):
        make_predictor("ensemble").fit(X, Y[:, 0], shared=SharedRelevance(np.ones(3), (1.0,)))
    assert get_predictor_class("ensemble").fit_shared(X, Y) is None
    with pytest.raises(ValueError, match="every task's labels"):
        fold_shared(NAME, X, None, np.arange(60))


def test_fit_task_model_computes_what_the_flows_shared_step_would():
    X, Y = _data()
    train = TrainingSet(X.astype(np.uint8), {f"t{k}": Y[:, k].astype(np.int64) for k in range(3)})
    shared = get_predictor_class(NAME).fit_shared(X, Y)
    given = fit_task_model("t1", NAME, train, shared)
    computed = fit_task_model("t1", NAME, train)
    assert np.array_equal(computed.shared_.scale, shared.scale)
    assert given.predict(X).tobytes() == computed.predict(X).tobytes()


# ---- no leakage: a fold's held-out labels never reach its shared scale ----------------


def test_fold_loop_scale_ignores_the_folds_held_out_labels(monkeypatch):
    """`ufo evaluate` path: evaluate_predictor -> fold_taus (the fold loop) -> fold_shared."""
    X, Y = _data()
    seen = _record_scales(monkeypatch)
    holdout = parse_holdout("kfold:3")
    folds = holdout_splits(len(X), holdout)
    fold_taus(NAME, X, Y[:, 0], holdout, all_labels=Y)
    before = list(seen)  # one scale per fold
    seen.clear()
    changed = _change_rows(Y, folds[0][1])
    fold_taus(NAME, X, changed[:, 0], holdout, all_labels=changed)
    after = list(seen)
    assert len(before) == len(after) == 3
    assert before[0].tobytes() == after[0].tobytes()  # fold 0 never saw its test rows
    # the recording is sensitive: folds 1 and 2 train on the changed rows, and see it
    assert not np.allclose(before[1], after[1]) and not np.allclose(before[2], after[2])


def test_flow_holdout_scale_ignores_the_held_out_labels(monkeypatch):
    """The flow's holdout-<task> path: holdout_taus_for_task on the whole TrainingSet."""
    X, Y = _data()
    seen = _record_scales(monkeypatch)

    def scale_for(labels: np.ndarray) -> np.ndarray:
        train = TrainingSet(
            X.astype(np.uint8), {f"t{k}": labels[:, k].astype(np.int64) for k in range(3)}
        )
        seen.clear()
        holdout_taus_for_task("t0", NAME, train, parse_holdout("last:30"))
        [scale] = seen
        return scale

    original = scale_for(Y)
    assert original.tobytes() == scale_for(_change_rows(Y, np.arange(60, 90))).tobytes()
    assert not np.allclose(original, scale_for(_change_rows(Y, np.arange(0, 30))))


# ---- shared eigendecompositions -------------------------------------------------------


def _fit_all_tasks(X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
    shared = get_predictor_class(NAME).fit_shared(X, Y)
    return [make_predictor(NAME).fit(X, Y[:, t], shared=shared).predict(X) for t in range(3)]


def test_eigendecompositions_are_shared_across_tasks_without_changing_results():
    X, Y = _data()
    with eigh_cache_limit(0) as cache:  # nothing kept: every fit decomposes its own Grams
        alone = _fit_all_tasks(X, Y)
        unshared = cache.stats.computed
    with eigh_cache_limit(64 * 2**20) as cache:
        together = _fit_all_tasks(X, Y)
        shared = cache.stats.computed
    kernels = 2 * (len(DEFAULT_KERNELS) + len(INTERACTION_KERNELS))  # plain + relevance members
    # unshared: per task its ridge Gram (in fit_shared) and every member kernel; shared: the
    # ridge Gram and each member kernel once for all 3 tasks
    assert unshared == 3 * (1 + kernels)
    assert shared <= 1 + kernels
    assert all(a.tobytes() == b.tobytes() for a, b in zip(alone, together, strict=True))


def test_normal_scores_are_taken_per_task_before_sharing():
    X, Y = _data()
    shared = get_predictor_class(NAME).fit_shared(X, Y)
    direct = SharedRelevancePredictor._fit_shared(
        X, np.column_stack([normal_scores(c) for c in Y.T])
    )
    assert shared.scale.tobytes() == direct.scale.tobytes()


# ---- the same, row by row, for any cross-task predictor --------------------------------


class RecordingShared(Predictor):
    """A cross-task predictor that records the rows and labels fit_shared was given."""

    name = "recording_shared"
    description = "test predictor recording the rows its shared step sees"
    target = "raw"
    uses_shared = True
    seen: ClassVar[list[tuple[frozenset[int], np.ndarray]]] = []
    row_of: ClassVar[dict[bytes, int]] = {}

    @classmethod
    def _fit_shared(cls, X, Y):
        cls.seen.append((frozenset(cls.row_of[r.tobytes()] for r in X), Y.copy()))
        return len(cls.seen)

    def _fit(self, X, y):
        self.w = np.arange(X.shape[1], dtype=float)

    def _predict(self, X):
        return X @ self.w


@pytest.fixture
def recording_shared(monkeypatch):
    archs = some_archs(120, seed=5)
    X = get_encoding("onehot").build(archs)
    Y = np.column_stack(
        [np.random.default_rng(k).permutation(120) for k in range(len(TASKS))]
    ).astype(float)
    monkeypatch.setitem(PREDICTORS, RecordingShared.name, RecordingShared)
    monkeypatch.setattr(RecordingShared, "seen", [])
    monkeypatch.setattr(RecordingShared, "row_of", {r.tobytes(): i for i, r in enumerate(X)})
    return X, Y


@pytest.mark.parametrize("spec", ["last:30", "kfold:4"])
def test_each_folds_shared_step_sees_exactly_its_training_rows(recording_shared, spec):
    X, Y = recording_shared
    folds = holdout_splits(len(X), parse_holdout(spec))
    train = TrainingSet(
        X.astype(np.uint8), {t: Y[:, k].astype(np.int64) for k, t in enumerate(TASKS)}
    )
    for run in (
        lambda: evaluate_predictor(RecordingShared.name, X, Y, parse_holdout(spec)),  # ufo evaluate
        lambda: holdout_taus_for_task("sop", RecordingShared.name, train, parse_holdout(spec)),
    ):
        RecordingShared.seen.clear()
        run()
        assert RecordingShared.seen, "the shared step ran"
        for k, (rows, labels) in enumerate(RecordingShared.seen):
            train_idx, _ = folds[k % len(folds)]
            assert rows == frozenset(train_idx.tolist())
            assert np.array_equal(labels, Y[train_idx]), "every task's labels on those rows"


def test_the_flows_shared_step_sees_every_training_row(recording_shared):
    X, Y = recording_shared
    train = TrainingSet(
        X.astype(np.uint8), {t: Y[:, k].astype(np.int64) for k, t in enumerate(TASKS)}
    )
    assert fit_shared_stats(RecordingShared.name, train) == 1
    [(rows, labels)] = RecordingShared.seen
    assert rows == frozenset(range(len(X))) and np.array_equal(labels, Y)
