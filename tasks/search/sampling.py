"""The space as kind matrices, (n, 12) with kinds 0..8 and -1 past the depth: random
draws as the training set was drawn, rejection sampling within a budget, repair of
over-budget archs."""

from __future__ import annotations

import numpy as np

from schemas.costs import N_KINDS
from schemas.search_space import DEPTH_BY_CODE, MAX_DEPTH
from tasks.search.front import (
    QuantisedCost,
)

DEPTHS: tuple[int, ...] = tuple(sorted(DEPTH_BY_CODE.values()))

MAX_SAMPLE_DRAWS = 2_000_000  # rejection sampling gives up (budget too tight) after these


def depths_of_kinds(kinds: np.ndarray) -> np.ndarray:
    return (np.asarray(kinds) >= 0).sum(axis=1)


def sample_kinds(n: int, rng: np.random.Generator) -> np.ndarray:
    """Archs drawn as the training set was: depth uniform, each layer's kind uniform
    (heads and mlp codes uniform and independent)."""
    depth = rng.choice(np.array(DEPTHS), size=n)
    kinds = rng.integers(0, N_KINDS, size=(n, MAX_DEPTH))
    kinds[np.arange(MAX_DEPTH)[None, :] >= depth[:, None]] = -1
    return kinds


def cheapest_cost(cost: QuantisedCost) -> float:
    """The cost of the cheapest arch in the space."""
    per_layer = np.cumsum(cost.units.min(axis=1))
    return float(min(cost.of_units(per_layer[d - 1]) for d in DEPTHS))


def check_budget(cost: QuantisedCost, budget: float) -> None:
    """The search's guard, checked once by its entry point (refine.run_search): in the
    quantised units the search compares, the budget admits the cheapest arch. A user's
    budget was refused earlier, in its own units (search.parameters)."""
    smallest = cheapest_cost(cost)
    if not budget >= smallest:
        raise ValueError(f"budget {budget:g} is below the cheapest sub-network's {smallest:g}")


def sample_within(
    n: int, cost: QuantisedCost, budget: float, rng: np.random.Generator
) -> np.ndarray:
    """`n` archs drawn as in sample_kinds, conditioned on cost <= budget (rejection)."""
    return draw_within(n, lambda size: sample_kinds(size, rng), cost.of_kinds, budget)


def draw_within(n: int, draw, cost_of, budget: float) -> np.ndarray:
    """Rejection sampling, the one loop for every sampler: `draw(size)` rows, keep those
    with `cost_of(rows) <= budget`, until `n` are kept (in draw order, so a seeded draw
    gives the same rows whatever `n` needs)."""
    found, drawn, total = [], 0, 0
    while total < n:
        if drawn >= MAX_SAMPLE_DRAWS:
            raise ValueError(
                f"budget {budget:g}: random sampling found {total} of {n} archs within it"
                f" in {drawn:,} draws"
            )
        batch = draw(max(1024, 4 * (n - total)))
        drawn += len(batch)
        found.append(batch[cost_of(batch) <= budget][: n - total])
        total += len(found[-1])
    return np.concatenate(found)


def repair_within(
    kinds: np.ndarray, cost: QuantisedCost, budget: float, rng: np.random.Generator
) -> np.ndarray:
    """Bring over-budget archs within the budget: lower a random layer to a random
    cheaper kind, or drop the last layer once every layer is at its cheapest, until
    within. Ends, because every step lowers the cost and the cheapest arch fits (the
    search's entry point, refine.run_search, has checked that with check_budget)."""
    kinds = np.array(kinds, dtype=np.int64)
    for i in np.flatnonzero(cost.of_kinds(kinds) > budget):
        row = kinds[i]
        while cost.of_kinds(row[None])[0] > budget:
            depth = int((row >= 0).sum())
            current = cost.units[np.arange(depth), row[:depth]]
            lowerable = np.flatnonzero(current > cost.units[:depth].min(axis=1))
            if len(lowerable) == 0 and depth - 1 not in DEPTHS:
                raise AssertionError("unreachable when check_budget passed")
            if len(lowerable) == 0:
                row[depth - 1] = -1
                continue
            layer = int(rng.choice(lowerable))
            row[layer] = int(rng.choice(np.flatnonzero(cost.units[layer] < current[layer])))
    return kinds


def sample_near(n: int, cost: QuantisedCost, budget: float, rng: np.random.Generator) -> np.ndarray:
    """`n` archs within the budget for the surrogate's first sample: drawn as in
    sample_kinds and repaired when over budget, so tight budgets work too (the archs
    lean to the budget's edge, where the search looks)."""
    return repair_within(sample_kinds(n, rng), cost, budget, rng)
