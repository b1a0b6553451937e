import numpy as np
import pytest

from schemas.encodings import encode_onehot
from schemas.search_space import TASKS
from tasks.errors import HoldoutError
from tasks.predict.evaluate import evaluate_predictor, holdout_splits, kendall_tau, parse_holdout
from tests.factories import some_archs


@pytest.mark.parametrize(
    "spec,expected", [("last:100", ("last", 100)), ("kfold:5", ("kfold", 5)), ("none", ("none", 0))]
)
def test_parse_holdout(spec, expected):
    h = parse_holdout(spec)
    assert (h.kind, h.size) == expected and str(h) == spec


@pytest.mark.parametrize("spec", ["last", "kfold:1", "first:10", "last:-3", ""])
def test_bad_holdout_specs_are_named(spec):
    with pytest.raises(HoldoutError, match="holdout"):
        parse_holdout(spec)


def test_last_split_keeps_file_order():
    [(train, test)] = holdout_splits(10, parse_holdout("last:3"))
    assert train.tolist() == list(range(7)) and test.tolist() == [7, 8, 9]


def test_kfold_partitions_rows_deterministically():
    folds = holdout_splits(23, parse_holdout("kfold:5"), seed=4)
    tests = np.concatenate([t for _, t in folds])
    assert sorted(tests.tolist()) == list(range(23))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 23
    again = holdout_splits(23, parse_holdout("kfold:5"), seed=4)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))


def test_holdout_too_large_for_the_data():
    with pytest.raises(HoldoutError, match="too few"):
        holdout_splits(10, parse_holdout("last:9"))
    with pytest.raises(HoldoutError, match="at least"):
        holdout_splits(10, parse_holdout("kfold:6"))


def test_kendall_tau_and_undefined_case():
    assert kendall_tau(np.array([1, 2, 3]), np.array([3, 4, 5])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="undefined"):
        kendall_tau(np.array([1, 1, 1]), np.array([1, 2, 3]))


def test_evaluate_predictor_scores_a_learnable_signal():
    archs = some_archs(120, seed=8)
    X = encode_onehot(archs)
    signal = X @ np.random.default_rng(0).normal(size=X.shape[1])
    ranks = np.column_stack(
        [np.argsort(np.argsort(signal + 0.01 * k)) for k in range(len(TASKS))]
    ).astype(float)
    table = evaluate_predictor("gpnas", encode_onehot(archs), ranks, parse_holdout("kfold:3"))
    assert list(table.columns) == ["fold", *TASKS, "average"] and len(table) == 3
    assert (table["average"] > 0.5).all()
