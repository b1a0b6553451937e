"""Deployment budgets: `params=60M`, `macs=15G`, `latency=12ms`, parsed once, here.

A budget names a cost (schemas/costs.py, or a latency table) and a ceiling: a sub-network
fits when its cost is at most the ceiling."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from schemas.costs import AdditiveCost, cheapest_arch, macs_cost, params_cost
from tasks.errors import ParameterError
from tasks.search.front import quantise_additive_cost

# Units a user may write after the number, per metric; the value is in the cost's own
# unit (parameters, MACs, milliseconds). A unit is required: `params=60` is ambiguous.
UNITS: dict[str, dict[str, float]] = {
    "params": {"K": 1e3, "M": 1e6, "G": 1e9},
    "macs": {"M": 1e6, "G": 1e9, "T": 1e12},
    "latency": {"us": 1e-3, "ms": 1.0, "s": 1e3},
}
_BUDGET = re.compile(
    r"^\s*([A-Za-z_]+)\s*=\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z]*)\s*$"
)


class BudgetError(ParameterError):
    """A budget that cannot be read or cannot be met."""


@dataclass(frozen=True)
class Budget:
    metric: str  # "params", "macs" or "latency"
    limit: float  # in the cost's unit: parameters, MACs or ms
    spec: str  # as the user wrote it, for messages and reports

    def __str__(self) -> str:
        return self.spec


def parse_budget(spec: str) -> Budget:
    if not isinstance(spec, str) or not spec.strip():
        raise BudgetError("a budget is required, e.g. params=60M, macs=15G or latency=12ms")
    example = "e.g. params=60M, macs=15G or latency=12ms"
    if "=" not in spec:
        raise BudgetError(f"budget {spec!r} is not METRIC=VALUEUNIT ({example})")
    metric = spec.split("=", 1)[0].strip().lower()
    if metric not in UNITS:
        raise BudgetError(
            f"budget {spec!r}: unknown metric {metric!r}; use one of {', '.join(UNITS)} ({example})"
        )
    value_text = spec.split("=", 1)[1].strip()
    if value_text.startswith("-"):
        raise BudgetError(f"budget {spec!r}: the value must be positive")
    match = _BUDGET.match(spec.strip())
    if match is None:
        raise BudgetError(
            f"budget {spec!r}: {value_text!r} is not a number followed by a unit "
            f"({'/'.join(UNITS[metric])} for {metric})"
        )
    number, unit = match.group(2), match.group(3)
    if not unit:
        raise BudgetError(
            f"budget {spec!r}: give a unit after the number ({'/'.join(UNITS[metric])} for {metric})"
        )
    # Counts take K/M/G in either case; time units are case-sensitive (ms is not Ms).
    units = (
        UNITS[metric] if metric == "latency" else {u.lower(): f for u, f in UNITS[metric].items()}
    )
    key = unit if metric == "latency" else unit.lower()
    if key not in units:
        raise BudgetError(
            f"budget {spec!r}: unit {unit!r} is not one of {'/'.join(UNITS[metric])} for {metric}"
        )
    # In decimal, then rounded once: 0.2623752s and 262.3752ms are the same float (in
    # binary, 0.2623752 * 1e3 is 262.37519999999995, below a sub-network costing 262.3752).
    limit = float(Decimal(number) * Decimal(repr(units[key])))
    if not math.isfinite(limit) or limit <= 0:
        raise BudgetError(f"budget {spec!r}: the value must be a positive finite number")
    return Budget(metric, limit, spec.strip())


def cost_for(metric: str, image_size: int, latency: AdditiveCost | None) -> AdditiveCost:
    """The cost a budget's metric refers to."""
    if metric == "params":
        return params_cost(image_size)
    if metric == "macs":
        return macs_cost(image_size)
    if latency is None:
        raise BudgetError(
            "a latency budget needs a latency table: --latency-table FILE "
            "(measure one with `ufo measure-latency`)"
        )
    return latency


def format_cost(value: float, metric: str) -> str:
    if metric == "latency":
        return f"{value:.2f} ms"
    scaled, unit = (value / 1e9, "G") if value >= 1e9 else (value / 1e6, "M")
    return f"{scaled:.2f}{unit}"


def require_reachable(budget: Budget, cost: AdditiveCost) -> None:
    """The budget admits the cheapest sub-network, compared as the search compares: in
    its quantised cost (tasks/search/front.py), so this check and the search agree."""
    arch, _ = cheapest_arch(cost)
    smallest = float(quantise_additive_cost(cost).of_archs([arch])[0])
    if not budget.limit >= smallest:
        raise BudgetError(
            f"budget {budget.spec} is below the smallest sub-network: {arch} costs "
            f"{format_cost(smallest, budget.metric)}"
        )
