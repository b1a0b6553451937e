"""The benchmark's baselines on the refined search's accounting (an `Evaluator` scores each
distinct arch once, at most `max_evals`): Once-for-All's regularised evolution
(ofa/nas/search_algorithm/evolution.py, its defaults) and random search within the budget.
Used by bench/search_compare.py and the tests, not by `ufo search`."""

from __future__ import annotations

import numpy as np

from schemas.costs import AdditiveCost
from schemas.search_space import MAX_DEPTH
from tasks.search.evaluator import Candidate, Evaluator
from tasks.search.front import (
    QuantisedCost,
    archs_from_kind_matrix,
)
from tasks.search.objective import SearchObjective
from tasks.search.refine import MAX_IDLE_ROUNDS, run_search
from tasks.search.sampling import DEPTHS, draw_within, sample_within

# Once-for-All's evolution settings (ofa/nas/search_algorithm/evolution.py defaults).
OFA_POPULATION = 100
OFA_PARENT_RATIO = 0.25
OFA_MUTATION_RATIO = 0.5
OFA_MUTATE_PROB = 0.1

MAX_RESAMPLES = 1000  # draws per over-budget child before falling back to its parent


def run_random(
    evaluator: Evaluator, cost: QuantisedCost, budget: float, rng: np.random.Generator
) -> None:
    """Random search: archs drawn as the training set was, within the budget."""
    idle = 0
    while evaluator.remaining > 0 and idle < MAX_IDLE_ROUNDS:
        drawn = sample_within(min(256, evaluator.remaining), cost, budget, rng)
        idle = 0 if evaluator.evaluate_some(archs_from_kind_matrix(drawn)) else idle + 1


# Genotype for the evolution, as in OFA: every layer's choices exist even past the depth
# (a depth mutation can bring them back): columns [depth, heads 0..2 x 12, mlp 0..2 x 12].
_HEADS = slice(1, 1 + MAX_DEPTH)
_MLP = slice(1 + MAX_DEPTH, 1 + 2 * MAX_DEPTH)


def _phenotype(genes: np.ndarray) -> np.ndarray:
    kinds = 3 * genes[:, _HEADS] + genes[:, _MLP]
    return np.where(np.arange(MAX_DEPTH)[None, :] < genes[:, :1], kinds, -1)


def _random_genes(n: int, rng: np.random.Generator) -> np.ndarray:
    genes = np.empty((n, 1 + 2 * MAX_DEPTH), dtype=np.int64)
    genes[:, 0] = rng.choice(np.array(DEPTHS), size=n)
    genes[:, 1:] = rng.integers(0, 3, size=(n, 2 * MAX_DEPTH))
    return genes


def _random_genes_within(
    n: int, cost: QuantisedCost, budget: float, rng: np.random.Generator
) -> np.ndarray:
    """OFA's random_valid_sample, n times: random genotypes redrawn until within budget."""
    return draw_within(
        n, lambda size: _random_genes(size, rng), lambda g: cost.of_kinds(_phenotype(g)), budget
    )


def _mutate(genes: np.ndarray, rng: np.random.Generator, prob: float) -> np.ndarray:
    """OFA's mutate_arch: each layer (heads and mlp together) and the depth resampled
    with probability `prob`."""
    out = genes.copy()
    fresh = _random_genes(len(genes), rng)
    layer = rng.random((len(genes), MAX_DEPTH)) < prob
    out[:, _HEADS] = np.where(layer, fresh[:, _HEADS], genes[:, _HEADS])
    out[:, _MLP] = np.where(layer, fresh[:, _MLP], genes[:, _MLP])
    depth = rng.random(len(genes)) < prob
    out[:, 0] = np.where(depth, fresh[:, 0], genes[:, 0])
    return out


def _crossover(first: np.ndarray, second: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """OFA's crossover_sample: every gene from either parent with equal probability."""
    return np.where(rng.random(first.shape) < 0.5, first, second)


def _within_budget(make, fallback: np.ndarray, cost: QuantisedCost, budget: float) -> np.ndarray:
    """Children from make(rows) redrawn until within budget, as OFA does (a child still
    over budget after MAX_RESAMPLES draws becomes a copy of its fallback parent)."""
    children = fallback.copy()
    pending = np.arange(len(fallback))
    for _ in range(MAX_RESAMPLES):
        if len(pending) == 0:
            break
        drawn = make(pending)
        ok = cost.of_kinds(_phenotype(drawn)) <= budget
        children[pending[ok]] = drawn[ok]
        pending = pending[~ok]
    return children


def run_evolution(
    evaluator: Evaluator,
    cost: QuantisedCost,
    budget: float,
    rng: np.random.Generator,
    population: int = OFA_POPULATION,
    parent_ratio: float = OFA_PARENT_RATIO,
    mutation_ratio: float = OFA_MUTATION_RATIO,
    mutate_prob: float = OFA_MUTATE_PROB,
) -> None:
    """Once-for-All's evolution (EvolutionFinder.run_evolution_search): a random
    population within the budget; each generation keeps the best `parent_ratio` as
    parents and adds `mutation_ratio * population` mutants of random parents and
    crossovers of random parent pairs for the rest of `population`; over-budget
    children are redrawn. Runs until the evaluations are spent."""
    n_parents = int(round(parent_ratio * population))
    n_mutants = int(round(mutation_ratio * population))
    members, scores = _evaluate_genes(
        evaluator, _random_genes_within(population, cost, budget, rng)
    )
    idle = 0
    while evaluator.remaining > 0 and idle < MAX_IDLE_ROUNDS:
        best = np.argsort(-scores, kind="stable")[:n_parents]
        parents, parent_scores = members[best], scores[best]
        offspring = _offspring(
            parents, n_mutants, population - n_mutants, mutate_prob, cost, budget, rng
        )
        before = evaluator.n_evals
        children, child_scores = _evaluate_genes(evaluator, offspring)
        idle = 0 if evaluator.n_evals > before else idle + 1
        members = np.concatenate([parents, children])
        scores = np.concatenate([parent_scores, child_scores])


def _offspring(
    parents: np.ndarray,
    n_mutants: int,
    n_crosses: int,
    mutate_prob: float,
    cost: QuantisedCost,
    budget: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """One generation's children: mutants of random parents, then crossovers of random
    parent pairs, each redrawn until within the budget."""
    mothers = parents[rng.integers(len(parents), size=n_mutants)]
    mutants = _within_budget(
        lambda rows: _mutate(mothers[rows], rng, mutate_prob), mothers, cost, budget
    )
    pairs = rng.integers(len(parents), size=(n_crosses, 2))
    first, second = parents[pairs[:, 0]], parents[pairs[:, 1]]
    crosses = _within_budget(
        lambda rows: _crossover(first[rows], second[rows], rng), first, cost, budget
    )
    return np.concatenate([mutants, crosses])


def _evaluate_genes(evaluator: Evaluator, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score genotypes; those whose arch would exceed the evaluations left are dropped."""
    codes = archs_from_kind_matrix(_phenotype(genes))
    evaluator.evaluate_some(codes)
    known = [i for i, c in enumerate(codes) if c in evaluator]
    return genes[known], evaluator.evaluate([codes[i] for i in known])


def evolution_search(
    objective: SearchObjective,
    cost: AdditiveCost,
    budget: float,
    *,
    max_evals: int,
    seed: int = 0,
    top: int = 10,
) -> list[Candidate]:
    """Baseline: Once-for-All's evolution (run_evolution) with the same accounting."""
    return run_search(run_evolution, objective, cost, budget, max_evals, seed, top)


def random_search(
    objective: SearchObjective,
    cost: AdditiveCost,
    budget: float,
    *,
    max_evals: int,
    seed: int = 0,
    top: int = 10,
) -> list[Candidate]:
    """Baseline: random archs within the budget, with the same accounting."""
    return run_search(run_random, objective, cost, budget, max_evals, seed, top)
