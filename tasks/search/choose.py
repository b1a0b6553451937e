"""One search, start to end, on fitted task predictors: build the objective, search the
front and the picks within the budget, and score everything the report shows; for several
chips, one objective and one search per chip (tasks/search/chips.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from schemas.costs import AdditiveCost
from schemas.objectives import describe_objective
from tasks.predict.predictors.base import Predictor
from tasks.search.budget import Budget, cost_for, format_cost
from tasks.search.chips import ChipSearches
from tasks.search.chips_report import write_chips_summary
from tasks.search.decision import Decision, Measured, decide
from tasks.search.objective import build_objective, objective_sd, sd_per_task
from tasks.search.parameters import SearchParameters
from tasks.search.refine import search_budget, search_front
from tasks.search.report import ScoredArchs, arch_records, goodness_label, write_report


@dataclass(frozen=True)
class SearchOutcome:
    objective: str  # an objective spec (schemas/objectives.py)
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
    chip: str = ""  # the chip's name when one search covers several chips
    decision: Decision | None = None  # the best measured arch beside the best pick

    def title(self) -> str:
        kind = "exact front" if self.exact else f"refined search, <= {self.max_evals} evaluations"
        chip = f"chip {self.chip}, " if self.chip else ""
        return (
            f"{chip}{self.predictor}, objective {describe_objective(self.objective)}, "
            f"budget {self.budget} ({kind})"
        )

    def best_cost(self) -> float:
        return float(self.cost.of_archs(self.picks.archs[:1])[0])

    def best_line(self) -> str:
        best = self.picks.archs[0]
        cost = self.cost.of_archs([best])[0]
        return (
            f"best pick within {self.budget}: {best} "
            f"({format_cost(cost, self.budget.metric)}, predicted {self.picks.objective[0]:+.3f}"
            + (f" ± {self.picks.sd[0]:.3f}" if self.picks.sd is not None else "")
            + ")"
        )


def _scored(objective, archs: list[str], with_sd: bool = False) -> ScoredArchs:
    """Archs with their predicted goodness; `with_sd`: and the predictive sds (for the
    picks and the front the report shows, not for the labelled archs of the plot)."""
    per_task = objective.per_task(archs)
    sd = task_sd = None
    if with_sd:
        task_sd = sd_per_task(objective, archs)
        sd = objective_sd(objective, task_sd) if len(archs) else np.zeros(0)
    return ScoredArchs(
        list(archs),
        objective.goodness(archs),
        {task: per_task[:, i] for i, task in enumerate(objective.tasks)},
        sd=sd,
        sd_per_task=None
        if task_sd is None
        else {task: task_sd[:, i] for i, task in enumerate(objective.tasks)},
    )


def choose_subnetworks(
    models: dict[str, Predictor],
    train_archs: list[str],
    run: SearchParameters,
    latency: AdditiveCost | None,
    seed: int = 0,
    measured: Measured | None = None,
) -> SearchOutcome:
    """One chip's search: the objective, then `search_with`."""
    objective = build_objective(models, train_archs, task=run.objective)
    return search_with(objective, train_archs, run, latency, seed, measured)


def choose_for_chips(
    models: dict[str, Predictor],
    train_archs: list[str],
    runs: list[SearchParameters],
    latencies: list[AdditiveCost | None],
    chips: list[str],
    seed: int = 0,
    measured: Measured | None = None,
) -> list[SearchOutcome]:
    """Every chip's search, with one objective (the fits are the same for every chip)."""
    objective = build_objective(models, train_archs, task=runs[0].objective)
    return [
        replace(search_with(objective, train_archs, run, latency, seed, measured), chip=chip)
        for run, latency, chip in zip(runs, latencies, chips, strict=True)
    ]


def search_with(
    objective,
    train_archs: list[str],
    run: SearchParameters,
    latency,
    seed: int = 0,
    measured: Measured | None = None,
) -> SearchOutcome:
    """The front and the picks within the run's budget (its reachability was checked with
    the parameters), every arch scored for the report; given the measurements, the
    decision between the best measured arch and the best unmeasured pick."""
    cost = cost_for(run.budget.metric, run.image_size, latency)
    front = search_front(objective, cost, max_evals=run.max_evals, seed=seed)
    found = search_budget(
        objective, cost, run.budget.limit, max_evals=run.max_evals, seed=seed, top=run.top
    )
    picks = _scored(objective, [c.arch for c in found], with_sd=True)
    decision = None
    if measured is not None:
        decision = decide(
            objective,
            measured,
            cost.of_archs(list(measured.archs)),
            run.budget.limit,
            picks.archs,
            picks.objective,
            picks.sd,
        )
    return SearchOutcome(
        objective=run.objective,
        predictor=run.predictor,
        budget=run.budget,
        cost=cost,
        latency=latency,
        image_size=run.image_size,
        picks=picks,
        front=_scored(objective, list(front.archs), with_sd=True),
        labelled=_scored(objective, train_archs),
        exact=front.exact,
        max_evals=run.max_evals,
        decision=decision,
    )


def write_outcome(
    outcome: SearchOutcome, out_dir: Path, replace_any: bool = False
) -> dict[str, str]:
    records = dict(
        image_size=outcome.image_size, latency=outcome.latency, objective=outcome.objective
    )
    picks = arch_records(outcome.picks, **records)
    front = arch_records(outcome.front, **records)
    plot = dict(
        objective=outcome.objective,
        cost=outcome.cost,
        front=outcome.front,
        picks=outcome.picks,
        labelled=outcome.labelled,
        budget_limit=outcome.budget.limit,
        title=outcome.title(),
    )
    decision = None
    if outcome.decision is not None:
        decision = {
            "budget": str(outcome.budget),
            "objective": describe_objective(outcome.objective),
            **outcome.decision.record(),
        }
    return write_report(out_dir, picks, front, plot, decision=decision, replace_any=replace_any)


def write_outcomes(
    outcomes: list[SearchOutcome], searches: ChipSearches, replace_any: bool = False
) -> dict[str, str]:
    """Every chip's report (one chip: the report in the output folder itself, as a single
    search writes it) and, for several chips, the summary beside their folders."""
    if not searches.several:
        return write_outcome(outcomes[0], searches.runs[0].out, replace_any)
    written = {}
    for outcome, run in zip(outcomes, searches.runs, strict=True):
        for name, path in write_outcome(outcome, run.out, replace_any).items():
            written[f"{outcome.chip}/{name}"] = path
    label = goodness_label(outcomes[0].objective)
    written.update(write_chips_summary(outcomes, searches.out, label))
    return written
