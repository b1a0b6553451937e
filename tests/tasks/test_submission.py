import numpy as np
import pandas as pd
import pytest

from schemas.search_space import RANK_FIELDS, TASKS
from tasks.submission import assemble_submission, scores_to_ranks


def test_scores_become_ranks_zero_to_n_minus_one():
    assert scores_to_ranks(np.array([0.3, -1.0, 2.0, 0.1])).tolist() == [2, 0, 3, 1]


def test_ties_keep_file_order_deterministically():
    assert scores_to_ranks(np.array([1.0, 1.0, 0.0, 1.0])).tolist() == [1, 2, 0, 3]


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([[1.0, 2.0]])])
def test_bad_scores_are_refused(bad):
    with pytest.raises(ValueError):
        scores_to_ranks(bad)


def test_assemble_submission_keeps_keys_order_and_archs():
    test = pd.DataFrame({"key": ["b", "a", "c"], "arch": ["x", "y", "z"]})
    scores = {t: np.array([3.0, 1.0, 2.0]) * (i + 1) for i, t in enumerate(TASKS)}
    out = assemble_submission(test, scores)
    assert list(out["key"]) == ["b", "a", "c"] and list(out["arch"]) == ["x", "y", "z"]
    for field in RANK_FIELDS:
        assert out[field].tolist() == [2, 0, 1]
        assert all(type(v) is int for v in out[field])


def test_assemble_submission_refuses_missing_or_misaligned_scores():
    test = pd.DataFrame({"key": ["a", "b"], "arch": ["x", "y"]})
    with pytest.raises(ValueError, match="missing"):
        assemble_submission(test, {"cplfw": np.zeros(2)})
    with pytest.raises(ValueError, match="3 scores for 2"):
        assemble_submission(test, {t: np.zeros(3) for t in TASKS})
