"""The exact Pareto front of predicted goodness against cost, by dynamic programming.

With an additive score (a term per depth plus a term per layer and layer kind) and an
additive cost (a fixed part plus a term per layer and layer kind), the best goodness
for every reachable cost follows layer by layer: after deciding layers 1..i, a partial
arch (cost c, score s) can be dropped when another partial arch has cost <= c and
score >= s, because both are completed by the same choices for layers i+1.. with the
same added cost and score. Keeping only the non-dominated partial states per layer
(one per (cost, score) pair, ties broken deterministically) therefore loses no point of
the final front. A point is on the front iff no arch has cost <= and goodness >= with
one of them strict; the front holds one arch per point.

Costs are summed as integers: each per-layer cost term is rounded once to a multiple of
a resolution (1 when every term is a whole number, as for params and MACs, so those are
exact; otherwise a power of ten nine digits below the largest term's leading digit,
e.g. 1e-9 ms for a latency table whose largest term is 1-10 ms), so the cost of an arch depends only on which kinds it holds, never on the order
they were added in, and two archs with the same multiset of kinds always tie exactly.
Scores are float sums taken in layer order, then the depth term, as
AdditiveScore.of_kinds does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from schemas.costs import LAYER_KINDS, N_KINDS, AdditiveCost, kind_matrix
from schemas.search_space import (
    ABSENT_LAYER,
    DEPTH_BY_CODE,
    HEADS_BY_CODE,
    MAX_DEPTH,
    MLP_RATIO_BY_CODE,
    encode_arch,
)
from tasks.safety.limits import EXACT_INT_LIMIT
from tasks.safety.limits import MAX_COST_TERM as MAX_COST_TERM  # re-exported, see below
from tasks.safety.limits import MIN_LARGEST_COST_TERM as MIN_LARGEST_COST_TERM
from tasks.search.objective import AdditiveScore

# Non-integral cost terms are rounded to this power of ten below the largest term's
# leading digit (see the module docstring).
RELATIVE_COST_DIGITS = -9
# Integer cost sums must stay exact in float64 when reported.
_MAX_EXACT_INT = EXACT_INT_LIMIT
# What a cost table may hold so that quantise_cost accepts it for the real space (every
# term at most MAX_COST_TERM; a positive largest term at least MIN_LARGEST_COST_TERM):
# tasks/safety/limits.py derives both (below the search and the latency tables, which
# check them when a table is read), from the resolution rule and _MAX_EXACT_INT here.


@dataclass(frozen=True, eq=False)  # an array field: compare the fields, not the costs
class QuantisedCost:
    """A per-layer cost table as integers: cost = fixed + resolution * sum of units."""

    fixed: float
    units: np.ndarray  # (n_layers, n_kinds) int64
    resolution: float

    def of_units(self, total_units: np.ndarray) -> np.ndarray:
        return self.fixed + np.asarray(total_units, dtype=np.float64) * self.resolution

    def units_of_kinds(self, kinds: np.ndarray) -> np.ndarray:
        """(n,) integer cost sums of an (n, n_layers) kind matrix (-1 past the depth)."""
        kinds = np.asarray(kinds)
        return self._padded[np.arange(kinds.shape[1])[None, :], kinds].sum(axis=1)

    @cached_property
    def _padded(self) -> np.ndarray:
        """units with a zero column that kind -1 (an absent layer) picks."""
        return np.concatenate([self.units, np.zeros((len(self.units), 1), np.int64)], axis=1)

    def of_kinds(self, kinds: np.ndarray) -> np.ndarray:
        return self.of_units(self.units_of_kinds(kinds))

    def of_archs(self, codes: Sequence[str]) -> np.ndarray:
        return self.of_kinds(kind_matrix(codes))


def quantise_cost(
    layer_costs: np.ndarray, fixed: float = 0.0, resolution: float | None = None
) -> QuantisedCost:
    """Round a (n_layers, n_kinds) cost table to integer multiples of `resolution`
    (default: 1 for whole-number tables, else 10**(floor(log10(largest term)) - 9))."""
    table = np.asarray(layer_costs, dtype=np.float64)
    if table.ndim != 2 or not np.all(np.isfinite(table)) or np.any(table < 0):
        raise ValueError("layer costs must be a finite, non-negative 2-D table")
    if resolution is None:
        largest = float(table.max()) if table.size else 0.0
        whole = np.all(table == np.round(table))
        if whole or largest == 0:
            resolution = 1.0
        else:  # a power of ten, so terms with few decimals (0.1, 0.2, 0.3) tie exactly
            resolution = 10.0 ** (np.floor(np.log10(largest)) + RELATIVE_COST_DIGITS)
    if not resolution > 0:
        raise ValueError(f"cost resolution must be > 0, got {resolution}")
    units = np.round(table / resolution)
    if units.max(initial=0) * table.shape[0] >= _MAX_EXACT_INT:
        raise ValueError("cost terms too large for exact integer sums at this resolution")
    return QuantisedCost(float(fixed), units.astype(np.int64), float(resolution))


def quantise_additive_cost(cost: AdditiveCost, resolution: float | None = None) -> QuantisedCost:
    """The real space's cost: every one of the 12 layers uses the same per-kind terms."""
    table = np.tile(np.asarray(cost.per_kind, dtype=np.float64), (MAX_DEPTH, 1))
    return quantise_cost(table, cost.fixed, resolution)


@dataclass(frozen=True, eq=False)  # array fields: compare the fields, not the fronts
class KindFront:
    """A front over any layered space: archs as tuples of layer kinds (length = depth)."""

    costs: np.ndarray  # ascending
    goodness: np.ndarray  # strictly ascending
    kinds: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, eq=False)  # array fields: compare the fields, not the fronts
class Front:
    """Pareto front over the real space, sorted by cost: costs ascending, goodness
    strictly ascending, one arch (37-character code) per point."""

    costs: np.ndarray
    goodness: np.ndarray
    archs: tuple[str, ...]
    cost_name: str
    exact: bool  # True: the exact front (DP); False: the best found by a search

    def __len__(self) -> int:
        return len(self.archs)

    def best_within(self, budget: float) -> int | None:
        """Index of the best point with cost <= budget (the last one), None if none."""
        index = int(np.searchsorted(self.costs, budget, side="right")) - 1
        return index if index >= 0 else None


def pareto_indices(costs: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Indices of the non-dominated points (min cost, max score), ascending cost.

    Among equal (cost, score) points the lowest index is kept: deterministic ties."""
    costs, scores = np.asarray(costs), np.asarray(scores, dtype=np.float64)
    if len(costs) == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.lexsort((np.arange(len(costs)), -scores, costs))
    ordered = scores[order]
    best_before = np.concatenate([[-np.inf], np.maximum.accumulate(ordered)[:-1]])
    return order[ordered > best_before]


def pareto_front_dp(
    score: AdditiveScore,
    cost: QuantisedCost,
    allowed: np.ndarray | None = None,
) -> KindFront:
    """Exact front of an additive score against an additive cost over the space of archs
    with a depth in score.depths and, at layer i, a kind k with allowed[i, k] (all by
    default). Layer and kind counts come from score.layer_terms' shape."""
    n_layers, n_kinds = score.layer_terms.shape
    if cost.units.shape != (n_layers, n_kinds):
        raise ValueError(f"cost table {cost.units.shape} != score table {(n_layers, n_kinds)}")
    allowed = np.ones((n_layers, n_kinds), bool) if allowed is None else np.asarray(allowed, bool)
    if allowed.shape != (n_layers, n_kinds):
        raise ValueError(f"allowed mask {allowed.shape} != score table {(n_layers, n_kinds)}")

    state_units, state_score = np.zeros(1, np.int64), np.zeros(1)
    parents: list[np.ndarray] = []  # per layer: index of each state's parent state
    taken: list[np.ndarray] = []  # per layer: the kind each state chose there
    finals: list[tuple[int, np.ndarray, np.ndarray]] = []  # (depth, units, score)
    if 0 in score.depth_terms:
        finals.append((0, state_units, state_score + score.depth_terms[0]))
    for layer in range(max(score.depths)):
        kinds = np.flatnonzero(allowed[layer])
        cand_units = (state_units[:, None] + cost.units[layer, kinds][None, :]).ravel()
        cand_score = (state_score[:, None] + score.layer_terms[layer, kinds][None, :]).ravel()
        keep = pareto_indices(cand_units, cand_score)
        parents.append(keep // len(kinds))
        taken.append(kinds[keep % len(kinds)])
        state_units, state_score = cand_units[keep], cand_score[keep]
        if layer + 1 in score.depth_terms:
            finals.append((layer + 1, state_units, state_score + score.depth_terms[layer + 1]))

    depths = np.concatenate([np.full(len(u), d) for d, u, _ in finals])
    states = np.concatenate([np.arange(len(u)) for _, u, _ in finals])
    units = np.concatenate([u for _, u, _ in finals])
    scores = np.concatenate([s for _, _, s in finals])
    keep = pareto_indices(units, scores)
    archs = []
    for depth, state in zip(depths[keep].tolist(), states[keep].tolist(), strict=True):
        chosen = []
        for layer in range(depth - 1, -1, -1):
            chosen.append(int(taken[layer][state]))
            state = int(parents[layer][state])
        archs.append(tuple(reversed(chosen)))
    return KindFront(cost.of_units(units[keep]), scores[keep], tuple(archs))


_DEPTH_CODE = {depth: code for code, depth in DEPTH_BY_CODE.items()}


def arch_from_kinds(kinds: Sequence[int]) -> str:
    """The 37-character code of an arch given its layer kinds (LAYER_KINDS indices)."""
    heads = [HEADS_BY_CODE[LAYER_KINDS[k][0]] for k in kinds]
    mlps = [MLP_RATIO_BY_CODE[LAYER_KINDS[k][1]] for k in kinds]
    return encode_arch(len(kinds), heads, mlps)


def _code_bytes() -> np.ndarray:
    """(N_KINDS + 1, 3) ASCII groups per kind, the last row for an absent layer."""
    groups = [h + m + "1" for h, m in LAYER_KINDS] + [ABSENT_LAYER]
    return np.frombuffer("".join(groups).encode("ascii"), np.uint8).reshape(N_KINDS + 1, 3)


_GROUPS = _code_bytes()


def archs_from_kind_matrix(kinds: np.ndarray) -> list[str]:
    """Vectorised arch_from_kinds for an (n, 12) kind matrix with -1 past the depth
    (the inverse of schemas.costs.kind_matrix)."""
    kinds = np.asarray(kinds, dtype=np.int64)
    n = len(kinds)
    if n == 0:
        return []
    depth = (kinds >= 0).sum(axis=1)
    depth_byte = np.zeros(MAX_DEPTH + 1, np.uint8)
    for d, code in _DEPTH_CODE.items():
        depth_byte[d] = ord(code)
    raw = np.empty((n, 1 + 3 * MAX_DEPTH), np.uint8)
    raw[:, 0] = depth_byte[depth]
    raw[:, 1:] = _GROUPS[np.where(kinds >= 0, kinds, N_KINDS)].reshape(n, -1)
    return raw.view(f"S{raw.shape[1]}").ravel().astype(str).tolist()


def exact_front(score: AdditiveScore, cost: AdditiveCost, resolution: float | None = None) -> Front:
    """The exact Pareto front over the whole real space (depths score.depths, 9 kinds per
    layer) of an additive objective against an additive cost."""
    if score.layer_terms.shape != (MAX_DEPTH, N_KINDS):
        raise ValueError(f"the real space needs ({MAX_DEPTH}, {N_KINDS}) layer terms")
    bad = sorted(set(score.depths) - set(DEPTH_BY_CODE.values()))
    if bad:
        raise ValueError(f"depths {bad} are not in the search space")
    front = pareto_front_dp(score, quantise_additive_cost(cost, resolution))
    archs = tuple(arch_from_kinds(k) for k in front.kinds)
    return Front(front.costs, front.goodness, archs, cost.name, exact=True)
