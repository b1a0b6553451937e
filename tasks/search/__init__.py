"""Choosing sub-networks under a budget. Plain functions, no Prefect.

- objective.py: what is maximised, `build_objective(predictors, train_archs, task)`:
  one task's goodness or "all" (mean of standardised goodness), and its additive form
  (`AdditiveScore`) when every predictor is ridge on one-hot;
- front.py: `exact_front(score, cost) -> Front`, the exact Pareto front over the whole
  space by dynamic programming over layers (additive score, additive cost);
- refine.py: `search_budget` and `search_front` for any objective (exact where the
  objective is additive, otherwise a surrogate-seeded refinement counting every model
  evaluation), and the baselines `evolution_search` (Once-for-All) and `random_search`.

The direction (rank 0 is best, search maximises goodness) lives in
tasks.predict.predictors.base.goodness."""

from tasks.search.baselines import evolution_search, random_search
from tasks.search.evaluator import Candidate
from tasks.search.front import Front, exact_front
from tasks.search.objective import ALL_TASKS, AdditiveScore, Objective, build_objective
from tasks.search.refine import search_budget, search_front

__all__ = [
    "ALL_TASKS",
    "AdditiveScore",
    "Candidate",
    "Front",
    "Objective",
    "build_objective",
    "evolution_search",
    "exact_front",
    "random_search",
    "search_budget",
    "search_front",
]
