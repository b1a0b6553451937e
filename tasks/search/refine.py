"""Budgeted search with any objective, counting every evaluation of the full model.

The default predictor (the ensemble) is not additive, so the exact front does not apply
to it directly. The refined search:

1. fits an additive surrogate (ridge on depth + per-layer kind one-hot) to the full
   model's goodness on archs sampled within the budget (an exact additive objective is
   its own surrogate and skips this);
2. takes the surrogate's exact front (front.py) and evaluates its best points within the
   budget as starting points;
3. refines with the full model, best first: the best evaluated arch not yet expanded
   has its neighbourhood listed (one or two layers changed, the depth changed by
   dropping or adding the last layer, alone or with one layer changed), over-budget
   neighbours dropped, and the unseen ones the surrogate likes best evaluated in a batch.
   The surrogate is refitted on everything evaluated as the search goes, and its
   new exact best within the budget is evaluated too.


The benchmark's baselines (baselines.py) use the same `Evaluator` (evaluator.py), which
scores each distinct arch once and refuses to score more than `max_evals` of them. All randomness
comes from the `seed`."""

from __future__ import annotations

import heapq
import logging
from collections.abc import Sequence

import numpy as np

from schemas.costs import N_KINDS, AdditiveCost, kind_matrix
from schemas.search_space import MAX_DEPTH
from tasks.search.evaluator import Candidate, Evaluator
from tasks.search.front import (
    Front,
    QuantisedCost,
    archs_from_kind_matrix,
    exact_front,
    pareto_front_dp,
    pareto_indices,
    quantise_additive_cost,
)
from tasks.search.objective import AdditiveScore, SearchObjective
from tasks.search.sampling import DEPTHS, check_budget, depths_of_kinds, sample_kinds, sample_near

log = logging.getLogger(__name__)


# Refined search settings (measured on the real file's ensemble, bench/search_compare.py).
SURROGATE_SHARE = 0.2  # of max_evals spent on the surrogate's first training sample
MAX_SURROGATE_SAMPLE = 1000
SURROGATE_ALPHA = 1.0  # ridge penalty on the per-layer kind terms (depth terms free)
N_STARTS = 16  # surrogate front points within the budget evaluated first
BATCH = 16  # neighbours evaluated per expansion
MAX_EXPANSIONS = 4  # batches taken from one arch's neighbourhood
REFIT_EVERY = 200  # evaluations between surrogate refits
FRONT_START_SHARE = 0.3  # search_front: of max_evals spent on the surrogate front's points

MAX_IDLE_ROUNDS = 50  # rounds that find nothing new before a search stops early


def _with_single_changes(base: np.ndarray) -> np.ndarray:
    """Every arch differing from `base` in the kind of exactly one present layer."""
    depth = int(depths_of_kinds(base[None])[0])
    layers = np.repeat(np.arange(depth), N_KINDS - 1)
    shift = np.tile(np.arange(1, N_KINDS), depth)
    rows = np.tile(base, (len(layers), 1))
    rows[np.arange(len(layers)), layers] = (base[layers] + shift) % N_KINDS
    return rows


def _with_pair_changes(base: np.ndarray) -> np.ndarray:
    """Every arch differing from `base` in the kinds of exactly two present layers."""
    depth = int(depths_of_kinds(base[None])[0])
    first, second = np.triu_indices(depth, 1)
    s1, s2 = np.meshgrid(np.arange(1, N_KINDS), np.arange(1, N_KINDS), indexing="ij")
    first, second = np.repeat(first, s1.size), np.repeat(second, s1.size)
    s1, s2 = np.tile(s1.ravel(), len(first) // s1.size), np.tile(s2.ravel(), len(first) // s1.size)
    rows = np.tile(base, (len(first), 1))
    index = np.arange(len(first))
    rows[index, first] = (base[first] + s1) % N_KINDS
    rows[index, second] = (base[second] + s2) % N_KINDS
    return rows


def neighbourhood(row: np.ndarray) -> np.ndarray:
    """The local moves from one arch: one or two layers changed; the last layer dropped
    or a layer added at the end (any kind), alone or with one other layer changed."""
    depth = int(depths_of_kinds(row[None])[0])
    parts = [_with_single_changes(row), _with_pair_changes(row)]
    if depth - 1 in DEPTHS:
        shorter = row.copy()
        shorter[depth - 1] = -1
        parts += [shorter[None], _with_single_changes(shorter)]
    if depth + 1 in DEPTHS:
        for kind in range(N_KINDS):
            longer = row.copy()
            longer[depth] = kind
            parts += [longer[None], _with_single_changes(longer)]
    return np.concatenate(parts)


# --- the additive surrogate ---------------------------------------------------------


class Surrogate:
    """Ridge on depth one-hot + (layer, kind) one-hot, refitted from running sums."""

    n_features = len(DEPTHS) + MAX_DEPTH * N_KINDS

    def __init__(self, alpha: float = SURROGATE_ALPHA) -> None:
        self.gram = np.zeros((self.n_features, self.n_features))
        self.moment = np.zeros(self.n_features)
        penalty = np.full(self.n_features, alpha)
        penalty[: len(DEPTHS)] = 1e-9  # depth terms carry the intercept: barely penalised
        self.penalty = np.diag(penalty)

    @staticmethod
    def features(kinds: np.ndarray) -> np.ndarray:
        kinds = np.asarray(kinds)
        X = np.zeros((len(kinds), Surrogate.n_features))
        depth = depths_of_kinds(kinds)
        X[np.arange(len(kinds)), np.searchsorted(DEPTHS, depth)] = 1.0
        rows, layers = np.nonzero(kinds >= 0)
        X[rows, len(DEPTHS) + layers * N_KINDS + kinds[rows, layers]] = 1.0
        return X

    def add(self, kinds: np.ndarray, values: np.ndarray) -> None:
        X = self.features(kinds)
        self.gram += X.T @ X
        self.moment += X.T @ np.asarray(values, dtype=np.float64)

    def fit(self) -> AdditiveScore:
        w = np.linalg.solve(self.gram + self.penalty, self.moment)
        depth_terms = {d: float(w[i]) for i, d in enumerate(DEPTHS)}
        return AdditiveScore(depth_terms, w[len(DEPTHS) :].reshape(MAX_DEPTH, N_KINDS))


def _front_kinds(score: AdditiveScore, cost: QuantisedCost) -> tuple[np.ndarray, np.ndarray]:
    """The exact front of an additive score: (costs, kind matrix) ascending in cost."""
    front = pareto_front_dp(score, cost)
    kinds = np.full((len(front.kinds), MAX_DEPTH), -1, dtype=np.int64)
    for i, chosen in enumerate(front.kinds):
        kinds[i, : len(chosen)] = chosen
    return front.costs, kinds


def _rows_of(codes: Sequence[str]) -> np.ndarray:
    return kind_matrix(codes).astype(np.int64)


# --- the refined search ---------------------------------------------------------------


def _start_surrogate(evaluator: Evaluator, draw) -> tuple[Surrogate | None, AdditiveScore]:
    """(refittable surrogate or None when the objective is exactly additive, the current
    additive score); the surrogate's first sample is draw(n) evaluated."""
    exact = evaluator.objective.additive()
    if exact is not None:
        return None, exact
    surrogate = Surrogate()
    n = int(min(max(SURROGATE_SHARE * evaluator.max_evals, 1), MAX_SURROGATE_SAMPLE))
    codes = evaluator.evaluate_some(archs_from_kind_matrix(draw(n)))
    surrogate.add(_rows_of(codes), evaluator.evaluate(codes))
    return surrogate, surrogate.fit()


class _Refitter:
    """Adds newly evaluated archs to the surrogate and refits it every REFIT_EVERY."""

    def __init__(self, evaluator: Evaluator, surrogate: Surrogate | None, score: AdditiveScore):
        self.evaluator, self.surrogate, self.score = evaluator, surrogate, score
        self.added = evaluator.n_evals

    def update(self) -> bool:
        """True when the surrogate was refitted."""
        if self.surrogate is None or self.evaluator.n_evals - self.added < REFIT_EVERY:
            return False
        codes = self.evaluator.archs[self.added :]
        self.surrogate.add(_rows_of(codes), self.evaluator.values[self.added :])
        self.added = self.evaluator.n_evals
        self.score = self.surrogate.fit()
        return True


def _best_unseen(evaluator: Evaluator, moves: np.ndarray, priority: np.ndarray) -> list[str]:
    """Up to BATCH unseen archs among `moves`, highest priority first (stable ties);
    only as many rows as needed are turned into codes."""
    order = np.argsort(-priority, kind="stable")
    want = min(BATCH, evaluator.remaining)
    new: dict[str, None] = {}
    for start in range(0, len(order), 4 * BATCH):
        for code in evaluator.unseen(
            archs_from_kind_matrix(moves[order[start : start + 4 * BATCH]])
        ):
            if len(new) < want:
                new[code] = None
        if len(new) == want:
            break
    return list(new)


def run_refine(
    evaluator: Evaluator, cost: QuantisedCost, budget: float, rng: np.random.Generator
) -> None:
    """The refined search for one budget (module docstring), until evaluations run out."""
    surrogate, score = _start_surrogate(evaluator, lambda n: sample_near(n, cost, budget, rng))
    refitter = _Refitter(evaluator, surrogate, score)

    def evaluate_front_best(n: int) -> None:
        costs, kinds = _front_kinds(refitter.score, cost)
        within = kinds[costs <= budget][::-1][:n]  # best first
        evaluator.evaluate_some(archs_from_kind_matrix(within))

    evaluate_front_best(N_STARTS)
    expansions: dict[str, int] = {}
    queue: list[tuple[float, int]] = []  # (-goodness, evaluation index): best, then oldest
    queued, idle = 0, 0
    while evaluator.remaining > 0 and idle < MAX_IDLE_ROUNDS:
        for i in range(queued, evaluator.n_evals):  # all evaluated here are within budget
            heapq.heappush(queue, (-evaluator.values[i], i))
        queued = evaluator.n_evals
        while queue and expansions.get(evaluator.archs[queue[0][1]], 0) >= MAX_EXPANSIONS:
            heapq.heappop(queue)
        if not queue:  # every evaluated arch is expanded: spend the rest at random
            idle += 1
            evaluator.evaluate_some(archs_from_kind_matrix(sample_near(BATCH, cost, budget, rng)))
            continue
        pick = evaluator.archs[queue[0][1]]
        moves = neighbourhood(_rows_of([pick])[0])
        moves = moves[cost.of_kinds(moves) <= budget]
        new = _best_unseen(evaluator, moves, refitter.score.of_kinds(moves))
        expansions[pick] = expansions.get(pick, 0) + 1 if new else MAX_EXPANSIONS
        evaluator.evaluate(new)
        if refitter.update():
            evaluate_front_best(1)


def run_refine_front(evaluator: Evaluator, cost: QuantisedCost, rng: np.random.Generator) -> None:
    """The refined search for the whole front: surrogate front points as starting points, then the
    neighbourhoods of the current front's archs (fewest expansions first), ranked by how
    far the surrogate puts them above the front at their cost."""
    surrogate, score = _start_surrogate(evaluator, lambda n: sample_kinds(n, rng))
    refitter = _Refitter(evaluator, surrogate, score)
    _, kinds = _front_kinds(score, cost)
    n_starts = int(min(len(kinds), max(1, FRONT_START_SHARE * evaluator.max_evals)))
    spread = np.unique(np.round(np.linspace(0, len(kinds) - 1, n_starts)).astype(int))
    evaluator.evaluate_some(archs_from_kind_matrix(kinds[spread]))
    expansions: dict[str, int] = {}
    idle = 0
    costs = np.zeros(0)
    while evaluator.remaining > 0 and idle < MAX_IDLE_ROUNDS:
        costs = np.concatenate([costs, cost.of_archs(evaluator.archs[len(costs) :])])
        values = np.asarray(evaluator.values)
        on_front = pareto_indices(costs, values)
        open_ = [i for i in on_front if expansions.get(evaluator.archs[i], 0) < MAX_EXPANSIONS]
        if not open_:
            idle += 1
            evaluator.evaluate_some(archs_from_kind_matrix(sample_kinds(BATCH, rng)))
            continue
        pick = evaluator.archs[min(open_, key=lambda i: expansions.get(evaluator.archs[i], 0))]
        moves = neighbourhood(_rows_of([pick])[0])
        move_costs = cost.of_kinds(moves)
        at = np.searchsorted(costs[on_front], move_costs, side="right") - 1
        floor = np.where(at >= 0, values[on_front][np.maximum(at, 0)], -np.inf)
        new = _best_unseen(evaluator, moves, refitter.score.of_kinds(moves) - floor)
        expansions[pick] = expansions.get(pick, 0) + 1 if new else MAX_EXPANSIONS
        evaluator.evaluate(new)
        if refitter.update():
            _, kinds = _front_kinds(refitter.score, cost)
            evaluator.evaluate_some(archs_from_kind_matrix(kinds)[:: max(1, len(kinds) // 8)])


# --- entry points ---------------------------------------------------------------------


def run_search(run, objective, cost: AdditiveCost, budget: float, max_evals, seed, top):
    quantised = quantise_additive_cost(cost)
    check_budget(quantised, float(budget))
    evaluator = Evaluator(objective, max_evals, label="picks")
    run(evaluator, quantised, float(budget), np.random.default_rng(seed))
    log.info("%s: %d evaluations, budget %g %s", run.__name__, evaluator.n_evals, budget, cost.unit)
    return evaluator.best(quantised, float(budget), top)


def search_budget(
    objective: SearchObjective,
    cost: AdditiveCost,
    budget: float,
    *,
    max_evals: int,
    seed: int = 0,
    top: int = 10,
) -> list[Candidate]:
    """The `top` best archs found within `budget` by the refined search, best first,
    distinct, at most `max_evals` evaluations of the objective. For an additive
    objective the first candidate is the exact optimum (its exact front's best point
    within the budget is evaluated first)."""
    return run_search(run_refine, objective, cost, budget, max_evals, seed, top)


def search_front(
    objective: SearchObjective, cost: AdditiveCost, *, max_evals: int, seed: int = 0
) -> Front:
    """The Pareto front of goodness against cost: exact (no evaluations) when the
    objective is additive, else the Pareto filter of every arch the refined front
    search evaluated (at most `max_evals`)."""
    additive = objective.additive()
    if additive is not None:
        return exact_front(additive, cost)
    quantised = quantise_additive_cost(cost)
    evaluator = Evaluator(objective, max_evals, label="front")
    run_refine_front(evaluator, quantised, np.random.default_rng(seed))
    costs = quantised.of_archs(evaluator.archs)
    keep = pareto_indices(costs, np.asarray(evaluator.values))
    return Front(
        costs[keep],
        np.asarray(evaluator.values)[keep],
        tuple(evaluator.archs[i] for i in keep),
        cost.name,
        exact=False,
    )
