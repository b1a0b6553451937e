"""The budgeted-selection bench's regret arithmetic on hand-made archs whose answers are
known (bench/selection.py; the study itself runs on the real file, not here)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.selection import LARGEST, RANDOM, budget_regrets, method_scores, pick_regret

# Five archs. True ranks (0 = best), costs and a predictor's scores (lower = predicted better).
TRUE_RANKS = np.array([3, 0, 4, 1, 2])
COST = np.array([10, 50, 20, 40, 30])
PREDICTED = np.array([0.1, 0.9, 0.5, 0.2, 0.3])


def test_pick_regret_within_budget_30():
    allowed = COST <= 30  # archs 0, 2, 4 with true ranks 3, 4, 2: the best affordable is rank 2
    scores = method_scores({"model": PREDICTED}, COST)
    # the predictor picks arch 0 (score 0.1), true rank 3
    assert pick_regret(scores["model"], TRUE_RANKS, allowed) == (1.0, 0.0)
    # largest within budget is arch 4 (cost 30), true rank 2: the best
    assert pick_regret(scores[LARGEST], TRUE_RANKS, allowed) == (0.0, 1.0)
    # random: mean of ranks 3, 4, 2 is 3; one arch in three is the best
    assert pick_regret(scores[RANDOM], TRUE_RANKS, allowed) == pytest.approx((1.0, 1 / 3))


def test_pick_is_the_lowest_score_because_scores_order_like_ranks():
    everything = np.ones(5, bool)
    assert pick_regret(TRUE_RANKS, TRUE_RANKS, everything) == (0.0, 1.0)
    assert pick_regret(-TRUE_RANKS, TRUE_RANKS, everything) == (4.0, 0.0)


def test_ties_count_as_an_exact_expectation():
    # archs 0 and 2 tie at the lowest score: half the time rank 3, half rank 4
    scores = np.array([0.1, 0.9, 0.1, 0.2, 0.3])
    assert pick_regret(scores, TRUE_RANKS, COST <= 30) == (1.5, 0.0)
    # two archs tie for the largest cost within budget: ranks 3 and 2
    cost = np.array([30, 50, 20, 40, 30])
    assert pick_regret(-cost, TRUE_RANKS, cost <= 30) == (0.5, 0.5)


def test_budget_regrets_at_percentiles_of_the_cost():
    scores = method_scores({"model": PREDICTED}, COST)
    regret, hit = budget_regrets(scores, TRUE_RANKS, COST, percentiles=(10, 50, 90))
    # budgets 14, 30, 46: {arch 0}; {0, 2, 4}; {0, 2, 3, 4} (best affordable rank 0, then 2, then 1)
    np.testing.assert_allclose(regret, [[0, 1, 2], [0, 0, 0], [0, 1, 1.5]])
    np.testing.assert_allclose(hit, [[1, 0, 0], [1, 1, 1], [1, 1 / 3, 1 / 4]])


def test_an_empty_budget_is_an_error():
    with pytest.raises(ValueError, match="no arch within budget"):
        pick_regret(PREDICTED, TRUE_RANKS, np.zeros(5, bool))
