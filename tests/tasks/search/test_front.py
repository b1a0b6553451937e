"""Exact front: equal to brute-force Pareto filtering on spaces small enough to list,
never beaten by archs sampled from the full space, consistent with the objective."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from schemas.costs import AdditiveCost, kind_matrix, macs_cost, params_cost
from schemas.search_space import decode_arch, sample_archs
from tasks.search.front import (
    arch_from_kinds,
    archs_from_kind_matrix,
    exact_front,
    pareto_front_dp,
    pareto_indices,
    quantise_additive_cost,
    quantise_cost,
)
from tasks.search.objective import AdditiveScore, build_objective


def enumerate_space(allowed: np.ndarray, depths) -> np.ndarray:
    """Every arch of a restricted space as a kind matrix (-1 past the depth)."""
    n_layers = allowed.shape[0]
    rows = []
    for depth in sorted(depths):
        choices = [np.flatnonzero(allowed[i]).tolist() for i in range(depth)]
        for kinds in itertools.product(*choices):
            rows.append(list(kinds) + [-1] * (n_layers - depth))
    return np.array(rows, dtype=np.int64).reshape(-1, n_layers)


def brute_force_front(costs: np.ndarray, scores: np.ndarray) -> dict[tuple, set[int]]:
    """By the definition: a point is on the front iff no arch has cost <= and score >=
    with one strict. Returns (cost, score) -> the indices of all archs at that point."""
    dominated = np.zeros(len(costs), bool)
    for start in range(0, len(costs), 256):
        c, s = costs[start : start + 256, None], scores[start : start + 256, None]
        weakly = (costs[None, :] <= c) & (scores[None, :] >= s)
        strictly = (costs[None, :] < c) | (scores[None, :] > s)
        dominated[start : start + 256] = (weakly & strictly).any(axis=1)
    points: dict[tuple, set[int]] = {}
    for i in np.flatnonzero(~dominated):
        points.setdefault((costs[i], scores[i]), set()).add(int(i))
    return points


def _real_space_case(cost: AdditiveCost, kinds: list[int], seed: int):
    rng = np.random.default_rng(seed)
    allowed = np.zeros((12, 9), bool)
    allowed[:, kinds] = True
    score = AdditiveScore(
        {10: float(rng.normal()), 11: float(rng.normal()), 12: float(rng.normal())},
        rng.normal(size=(12, 9)),
    )
    return score, quantise_additive_cost(cost), allowed


def _toy_case(n_layers: int, n_kinds: int, depths, seed: int, integer: bool = False):
    """Random per-layer costs (different in every layer) and scores; `integer` makes
    small whole numbers, so many archs tie in cost, in score or in both."""
    rng = np.random.default_rng(seed)
    if integer:
        costs = rng.integers(0, 4, size=(n_layers, n_kinds)).astype(float)
        terms = rng.integers(-2, 3, size=(n_layers, n_kinds)).astype(float)
        depth_terms = {d: float(rng.integers(-2, 3)) for d in depths}
    else:
        costs = rng.uniform(0.1, 3.0, size=(n_layers, n_kinds))
        terms = rng.normal(size=(n_layers, n_kinds))
        depth_terms = {d: float(rng.normal()) for d in depths}
    allowed = np.ones((n_layers, n_kinds), bool)
    return AdditiveScore(depth_terms, terms), quantise_cost(costs, fixed=0.5), allowed


CASES = {
    "params-2-kinds": lambda: _real_space_case(params_cost(), [0, 8], 0),
    "params-2-kinds-same-heads": lambda: _real_space_case(params_cost(), [3, 4], 1),
    "macs-2-kinds": lambda: _real_space_case(macs_cost(), [2, 6], 2),
    "latency-2-kinds": lambda: _real_space_case(
        AdditiveCost("latency", "ms", 1.7, tuple(np.linspace(0.9, 2.3, 9))), [1, 7], 3
    ),
    "toy-3-layers": lambda: _toy_case(3, 5, (1, 2, 3), 4),
    "toy-3-layers-depth-0": lambda: _toy_case(3, 4, (0, 2, 3), 5),
    "toy-4-layers-ties": lambda: _toy_case(4, 4, (2, 3, 4), 9, integer=True),
    "toy-5-layers-ties": lambda: _toy_case(5, 3, (3, 5), 7, integer=True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_dp_front_equals_brute_force(case):
    score, cost, allowed = CASES[case]()
    if case.startswith("toy-5"):
        allowed[1, 0] = allowed[3, 2] = False  # a different kind subset per layer
    space = enumerate_space(allowed, score.depths)
    costs = cost.of_kinds(space)
    scores = score.of_kinds(space)
    expected = brute_force_front(costs, scores)

    front = pareto_front_dp(score, cost, allowed)

    assert list(zip(front.costs, front.goodness, strict=True)) == sorted(expected)
    for c, g, kinds in zip(front.costs, front.goodness, front.kinds, strict=True):
        row = np.array([list(kinds) + [-1] * (allowed.shape[0] - len(kinds))])
        assert allowed[np.arange(len(kinds)), list(kinds)].all()
        assert cost.of_kinds(row)[0] == c and score.of_kinds(row)[0] == g
        holders = expected[(c, g)]
        if len(holders) == 1:  # unique optimum: the DP must name that very arch
            assert np.array_equal(space[next(iter(holders))], row[0])
    if case.startswith("toy-4"):  # the tie case really has ties
        assert any(len(h) > 1 for h in expected.values())


@pytest.mark.parametrize("kinds", [[0, 8], [3, 4]])
def test_front_of_a_weighted_two_task_ridge_objective_equals_brute_force(
    demo_train, ridge_predictors, kinds
):
    spec = "cplfw:2,market1501:1"
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), spec)
    score, cost = objective.additive(), quantise_additive_cost(params_cost())
    allowed = np.zeros((12, 9), bool)
    allowed[:, kinds] = True
    space = enumerate_space(allowed, score.depths)
    scores = score.of_kinds(space)
    # the additive form is the objective itself on every arch of the space
    assert np.allclose(scores, objective.goodness(archs_from_kind_matrix(space)), atol=1e-9)
    expected = brute_force_front(cost.of_kinds(space), scores)

    front = pareto_front_dp(score, cost, allowed)

    assert len(front.costs) > 10
    assert list(zip(front.costs, front.goodness, strict=True)) == sorted(expected)


def test_pareto_indices_keeps_the_first_of_equal_points_and_drops_dominated():
    costs = np.array([3, 1, 1, 2, 2, 3])
    scores = np.array([5.0, 1.0, 1.0, 0.5, 4.0, 4.0])
    # (1, 1.0) twice: index 1 kept; (2, 0.5) dominated by (1, 1.0); (3, 4.0) by (2, 4.0)
    assert pareto_indices(costs, scores).tolist() == [1, 4, 0]


@pytest.mark.parametrize(
    "cost",
    [
        params_cost(),
        macs_cost(),
        AdditiveCost("latency", "ms", 2.31, (1.13, 1.01, 0.97, 1.07, 0.96, 0.9, 1.0, 0.93, 0.8)),
    ],
    ids=lambda c: c.name,
)
def test_no_sampled_arch_beats_the_full_space_front(cost):
    rng = np.random.default_rng(11)
    # ridge-like terms: smaller layers worse, early layers matter more
    terms = -np.abs(rng.normal(size=(12, 9))) * np.linspace(2, 0.5, 12)[:, None]
    score = AdditiveScore({10: -1.0, 11: -0.4, 12: 0.0}, terms)
    front = exact_front(score, cost)
    archs = sample_archs(20_000, rng)
    costs = quantise_additive_cost(cost).of_archs(archs)
    goodness = score.of_archs(archs)

    at_cost = np.searchsorted(front.costs, costs, side="right") - 1
    assert (at_cost >= 0).all()  # the cheapest arch in the space is on the front
    assert (goodness <= front.goodness[at_cost]).all()
    assert np.all(np.diff(front.costs) > 0) and np.all(np.diff(front.goodness) > 0)
    assert np.allclose(front.costs, cost.of_archs(list(front.archs)), rtol=1e-12)
    assert front.cost_name == cost.name and front.exact


def test_float_costs_tie_by_multiset_and_decimal_value():
    assert 0.1 + 0.2 != 0.3  # why costs are summed as integers
    cost = AdditiveCost("latency", "ms", 0.0, (0.1, 0.2, 0.3, 0.0, 0.9, 0.9, 0.9, 0.9, 0.9))
    q = quantise_additive_cost(cost)
    a = [0, 1] + [8] * 8  # 0.1 + 0.2 + ...
    b = [2, 3] + [8] * 8  # 0.3 + 0.0 + ...: another multiset, the same decimal cost
    c = [8] * 8 + [1, 0]  # a's multiset in another order
    units = q.units_of_kinds(np.array([x + [-1, -1] for x in (a, b, c)]))
    assert units[0] == units[1] == units[2]
    assert q.resolution == pytest.approx(1e-10)


def test_kind_codes_round_trip():
    archs = sample_archs(500, np.random.default_rng(2))
    kinds = kind_matrix(archs)
    assert archs_from_kind_matrix(kinds) == archs
    for arch, row in zip(archs[:20], kinds[:20], strict=True):
        assert arch_from_kinds([int(k) for k in row if k >= 0]) == arch
        assert decode_arch(arch).depth == (row >= 0).sum()


def test_best_within_budget():
    score = AdditiveScore({10: 0.0, 11: 0.5, 12: 1.0}, np.tile(-np.arange(9.0), (12, 1)))
    front = exact_front(score, params_cost())
    assert front.best_within(front.costs[0] - 1) is None
    assert front.best_within(front.costs[3]) == 3
    assert front.best_within(front.costs[3] + 0.5) == 3
    assert front.best_within(np.inf) == len(front) - 1
