"""Refined search and baselines: budget and evaluation count respected exactly,
determinism, at least as good as random on a non-additive objective, the additive case
exact, the front search."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.costs import kind_matrix, macs_cost, params_cost
from schemas.search_space import is_valid_arch, sample_archs
from tasks.search.baselines import evolution_search, random_search, run_evolution, run_random
from tasks.search.evaluator import Evaluator
from tasks.search.front import exact_front, quantise_additive_cost
from tasks.search.objective import AdditiveScore, build_objective
from tasks.search.refine import Surrogate, neighbourhood, search_budget, search_front
from tasks.search.sampling import DEPTHS, cheapest_cost, sample_kinds

SEARCHES = [search_budget, evolution_search, random_search]


class ToyObjective:
    """Non-additive: per-layer terms plus interactions between neighbouring layers,
    bigger layers better; counts every arch it scores."""

    def __init__(self, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        size = np.array([3.0, 2.5, 2.0, 2.6, 2.1, 1.6, 2.2, 1.7, 1.2])  # ~ kind params
        self.terms = size[None, :] * np.linspace(1.5, 0.5, 12)[:, None]
        self.terms += rng.normal(0, 0.3, size=(12, 9))
        self.pairs = rng.normal(0, 0.6, size=(11, 9, 9))
        self.scored: list[str] = []

    def goodness(self, codes):
        self.scored += codes
        kinds = kind_matrix(codes).astype(int)
        present = kinds >= 0
        total = np.where(present, self.terms[np.arange(12), np.maximum(kinds, 0)], 0).sum(1)
        both = present[:, 1:] & present[:, :-1]
        pair = self.pairs[np.arange(11), np.maximum(kinds[:, :-1], 0), np.maximum(kinds[:, 1:], 0)]
        return total + np.where(both, pair, 0).sum(1) + 0.5 * present.sum(1)

    def additive(self):
        return None


def _budget(cost, q):
    return float(np.percentile(cost.of_archs(sample_archs(4000, np.random.default_rng(9))), q))


@pytest.mark.parametrize("search", SEARCHES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("q", [10, 60])
def test_budget_and_evaluation_count_are_respected_exactly(search, q):
    cost = params_cost()
    budget = _budget(cost, q)
    objective = ToyObjective()
    found = search(objective, cost, budget, max_evals=300, seed=1, top=25)

    assert len(objective.scored) == 300
    assert np.all(cost.of_archs(objective.scored) <= budget)  # over budget: never scored
    assert len(found) == 25 and len({c.arch for c in found}) == 25
    goodness = [c.goodness for c in found]
    assert goodness == sorted(goodness, reverse=True)
    archs = [c.arch for c in found]
    assert all(is_valid_arch(a) for a in archs)
    assert np.all(cost.of_archs(archs) <= budget)
    assert np.allclose(cost.of_archs(archs), [c.cost for c in found])
    assert np.allclose(ToyObjective().goodness(archs), goodness)


@pytest.mark.parametrize("search", SEARCHES, ids=lambda f: f.__name__)
def test_same_seed_same_result(search):
    cost = macs_cost()
    budget = _budget(cost, 40)
    runs = [search(ToyObjective(), cost, budget, max_evals=250, seed=s, top=5) for s in (3, 3, 4)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_refined_search_beats_random_and_evolution_at_equal_evaluations():
    cost = params_cost()
    for q in (20, 50, 80):
        budget = _budget(cost, q)
        best = {
            search.__name__: max(
                search(ToyObjective(), cost, budget, max_evals=400, seed=s, top=1)[0].goodness
                for s in range(2)
            )
            for search in SEARCHES
        }
        refined = search_budget(ToyObjective(), cost, budget, max_evals=400, seed=0, top=1)
        assert refined[0].goodness >= best["random_search"], q
        assert best["search_budget"] >= best["evolution_search"] - 1e-9, (q, best)


def test_additive_objective_first_candidate_is_the_exact_optimum(demo_train, ridge_predictors):
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), "all")
    cost = params_cost()
    front = exact_front(objective.additive(), cost)
    for q in (15, 50, 85):
        budget = _budget(cost, q)
        found = search_budget(objective, cost, budget, max_evals=30, seed=0, top=3)
        best = front.best_within(budget)
        assert found[0].goodness == pytest.approx(front.goodness[best], abs=1e-9)
        assert found[0].cost <= budget


def test_ensemble_objective_search_respects_the_budget(demo_train, ensemble_predictors):
    objective = build_objective(ensemble_predictors, demo_train["arch"].tolist(), "all")
    cost = params_cost()
    budget = _budget(cost, 30)
    found = search_budget(objective, cost, budget, max_evals=200, seed=0, top=5)
    assert len(found) == 5 and all(c.cost <= budget for c in found)
    rand = random_search(objective, cost, budget, max_evals=200, seed=0, top=1)
    assert found[0].goodness >= rand[0].goodness


def test_front_search_exact_for_additive_and_pareto_for_others(demo_train, ridge_predictors):
    cost = params_cost()
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), "market1501")
    exact = search_front(objective, cost, max_evals=10, seed=0)
    direct = exact_front(objective.additive(), cost)
    assert exact.exact and exact.archs == direct.archs
    assert np.array_equal(exact.goodness, direct.goodness)

    toy = ToyObjective()
    front = search_front(toy, cost, max_evals=600, seed=0)
    assert not front.exact and len(toy.scored) == 600 and len(front) > 20
    assert np.all(np.diff(front.costs) > 0) and np.all(np.diff(front.goodness) > 0)
    assert np.allclose(ToyObjective().goodness(list(front.archs)), front.goodness)
    # the refined front beats plain sampling of as many archs, at most costs
    sampled = sample_archs(600, np.random.default_rng(0))
    costs, values = cost.of_archs(sampled), ToyObjective().goodness(sampled)
    at = np.searchsorted(front.costs, costs, side="right") - 1
    beaten = (at >= 0) & (values <= front.goodness[np.maximum(at, 0)])
    assert beaten.mean() > 0.95


def test_evaluator_counts_distinct_archs_and_refuses_more_than_allowed():
    toy = ToyObjective()
    evaluator = Evaluator(toy, max_evals=3)
    archs = sample_archs(4, np.random.default_rng(0))
    evaluator.evaluate([archs[0], archs[1], archs[0]])
    evaluator.evaluate([archs[1]])
    assert evaluator.n_evals == 2 and len(toy.scored) == 2 and evaluator.remaining == 1
    with pytest.raises(RuntimeError, match="only 1 evaluations left"):
        evaluator.evaluate(archs[2:])
    assert evaluator.evaluate_some(archs) == [archs[2]] and evaluator.remaining == 0


def test_budget_below_the_cheapest_arch_is_refused():
    cost = params_cost()
    smallest = cheapest_cost(quantise_additive_cost(cost))
    assert smallest == cost.of_archs(["j" + "331" * 10 + "000" * 2])[0]
    for search in SEARCHES:
        with pytest.raises(ValueError, match="below the cheapest"):
            search(ToyObjective(), cost, smallest - 1, max_evals=10, seed=0)
    found = search_budget(ToyObjective(), cost, smallest, max_evals=10, seed=0)
    assert [c.cost for c in found] == [smallest]


def test_neighbourhood_moves_are_valid_and_local():
    for arch in sample_archs(6, np.random.default_rng(4)):
        row = kind_matrix([arch])[0].astype(np.int64)
        moves = neighbourhood(row)
        depth = int((row >= 0).sum())
        present = moves >= 0
        assert np.all(present[:, :-1] >= present[:, 1:])  # layers form a prefix
        assert set(present.sum(1).tolist()) <= set(DEPTHS)
        common = min(depth, 12)
        changed = (moves[:, :common] != row[None, :common]).sum(1)
        same_depth = present.sum(1) == depth
        assert set(changed[same_depth].tolist()) == {1, 2}
        assert set(changed[~same_depth].tolist()) <= {0, 1, 2}  # the end layer, +/- one more
        pairs = depth * (depth - 1) // 2 * 64
        extra = (1 + (depth - 1) * 8 if depth - 1 in DEPTHS else 0) + (
            9 * (1 + depth * 8 + 8) if depth + 1 in DEPTHS else 0
        )
        assert len(moves) == depth * 8 + pairs + extra


def test_additive_surrogate_recovers_an_additive_objective():
    rng = np.random.default_rng(0)
    score = AdditiveScore({10: 0.0, 11: 0.3, 12: 0.5}, rng.normal(size=(12, 9)))
    kinds = sample_kinds(3000, rng)
    surrogate = Surrogate(alpha=1e-6)
    surrogate.add(kinds, score.of_kinds(kinds))
    fitted = surrogate.fit()
    other = sample_kinds(200, rng)
    assert np.allclose(fitted.of_kinds(other), score.of_kinds(other), atol=1e-6)


@pytest.mark.parametrize("run", [run_evolution, run_random], ids=lambda f: f.__name__)
def test_anytime_baselines_at_fewer_evaluations_are_a_prefix_of_longer_runs(run):
    # bench/search_compare.py reads the baselines' smaller counts off one long run
    cost = quantise_additive_cost(params_cost())
    budget = _budget(params_cost(), 40)
    short, long = Evaluator(ToyObjective(), 230), Evaluator(ToyObjective(), 700)
    run(short, cost, budget, np.random.default_rng(5))
    run(long, cost, budget, np.random.default_rng(5))
    assert short.n_evals == 230 and long.n_evals == 700
    assert long.archs[:230] == short.archs
