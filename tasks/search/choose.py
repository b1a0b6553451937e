"""One search, start to end, on fitted task predictors: build the objective, search the
front and the picks within the budget, and score everything the report shows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.costs import AdditiveCost
from tasks.predict.predictors.base import Predictor
from tasks.search.budget import Budget, cost_for, format_cost
from tasks.search.parameters import SearchParameters
from tasks.search.report import ScoredArchs, arch_records, write_report


@dataclass(frozen=True)
class SearchOutcome:
    objective: str  # a task name or "all"
    predictor: str
    budget: Budget
    cost: AdditiveCost
    latency: AdditiveCost | None
    image_size: int
    picks: ScoredArchs
    front: ScoredArchs
    labelled: ScoredArchs
    exact: bool  # True when the front is the model's exact front (additive model)
    max_evals: int  # full-model evaluations allowed to a refined search (per front, per pick)

    def title(self) -> str:
        kind = "exact front" if self.exact else f"refined search, <= {self.max_evals} evaluations"
        return f"{self.predictor}, objective {self.objective}, budget {self.budget} ({kind})"

    def best_line(self) -> str:
        best = self.picks.archs[0]
        cost = self.cost.of_archs([best])[0]
        return (
            f"best pick within {self.budget}: {best} "
            f"({format_cost(cost, self.budget.metric)}, predicted {self.picks.objective[0]:+.3f})"
        )


def _scored(objective, archs: list[str]) -> ScoredArchs:
    per_task = objective.per_task(archs)
    return ScoredArchs(
        list(archs),
        objective.goodness(archs),
        {task: per_task[:, i] for i, task in enumerate(objective.tasks)},
    )


def choose_subnetworks(
    models: dict[str, Predictor],
    train_archs: list[str],
    run: SearchParameters,
    latency: AdditiveCost | None,
    seed: int = 0,
) -> SearchOutcome:
    from tasks.search.objective import build_objective
    from tasks.search.refine import search_budget, search_front

    cost = cost_for(run.budget.metric, run.image_size, latency)
    objective = build_objective(models, train_archs, task=run.objective)
    front = search_front(objective, cost, max_evals=run.max_evals, seed=seed)
    picks = search_budget(
        objective, cost, run.budget.limit, max_evals=run.max_evals, seed=seed, top=run.top
    )
    return SearchOutcome(
        objective=run.objective,
        predictor=run.predictor,
        budget=run.budget,
        cost=cost,
        latency=latency,
        image_size=run.image_size,
        picks=_scored(objective, [c.arch for c in picks]),
        front=_scored(objective, list(front.archs)),
        labelled=_scored(objective, train_archs),
        exact=front.exact,
        max_evals=run.max_evals,
    )


def write_outcome(outcome: SearchOutcome, out_dir: Path) -> dict[str, str]:
    picks = arch_records(outcome.picks, outcome.image_size, outcome.latency)
    front = arch_records(outcome.front, outcome.image_size, outcome.latency)
    plot = dict(
        cost=outcome.cost,
        front=outcome.front,
        picks=outcome.picks,
        labelled=outcome.labelled,
        budget_limit=outcome.budget.limit,
        title=outcome.title(),
    )
    return write_report(out_dir, picks, front, plot)
