"""Decide from what was measured: the best measured sub-network within the budget beside
the best predicted one, and whether measuring more is worth it.

The training file holds measured sub-networks (the competition's 500, or one's own
measurements, tasks/files/measurements.py). Within a budget, the best measured one is the
one a careful engineer would deploy today; the search's best pick that is not measured yet
is the candidate to beat it. `decide` puts the two side by side:

- **best measured**: among the labelled archs within the budget that measure every task
  the objective weighs, the best by their measurements: for one task its measured rank
  (0 = best); for several, the weighted mean over the tasks of each measured rank's normal
  score among that task's entries (the rank-based inverse normal transform the predictors
  are fitted on, tasks/predict/predictors/base.py), so a task measured on fewer entries
  counts the same.
- **predicted gain**: the pick's predicted goodness minus the model's own fitted goodness
  of the best measured arch. Both are on the model's scale, with its shrinkage (a measured
  value would be on another scale: the pick's prediction is shrunk towards the mean, the
  measurement is not, so comparing them would favour the measured arch by construction;
  tasks/search/propose.py's incumbent is the same fitted value, for the same reason).
- **its sd**: the pick's predictive sd (calibrated on the training rows by leave-one-out);
  the fitted value of a measured arch is taken as known, so this understates the gain's
  spread somewhat. `chance_better` = Phi(gain / sd).

A gain within one sd of zero is within the model's noise: more evaluation is unlikely to
change the decision, and the best measured arch is the one to deploy."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr

from tasks.predict.predictors.base import normal_scores
from tasks.search.objective import Objective

WORTH_IT = 1.0  # predicted gain above this many sds: measuring the pick is worth it


@dataclass(frozen=True)
class Measured:
    """Each task's measured ranks (0 = best) and the training rows they belong to."""

    archs: tuple[str, ...]  # the training file's archs, in its order
    ranks: Mapping[str, np.ndarray]  # task -> (m,) ranks of the rows that measure it
    rows: Mapping[str, np.ndarray]  # task -> (m,) those rows

    @classmethod
    def of(cls, archs: Sequence[str], ranks: Mapping, rows: Mapping | None = None) -> Measured:
        """From a TrainingSet's `ranks` and `rows` (a task without rows: every row)."""
        rows = rows or {}
        every = np.arange(len(archs))
        return cls(
            tuple(archs),
            {t: np.asarray(r) for t, r in ranks.items()},
            {t: np.asarray(rows.get(t, every)) for t in ranks},
        )


@dataclass(frozen=True)
class Decision:
    """The best measured arch within the budget and the best unmeasured pick (either may
    be None: nothing measured fits, or every pick is measured)."""

    measured_arch: str | None
    measured_ranks: dict[str, tuple[int, int]]  # task -> (rank, of m entries)
    measured_fitted: float  # the model's fitted goodness of the measured arch
    pick_arch: str | None
    pick_predicted: float
    pick_sd: float

    @property
    def gain(self) -> float | None:
        if self.measured_arch is None or self.pick_arch is None:
            return None
        return self.pick_predicted - self.measured_fitted

    @property
    def chance_better(self) -> float | None:
        gain = self.gain
        return None if gain is None else float(ndtr(gain / self.pick_sd))

    def advice(self) -> str:
        if self.measured_arch is None:
            return "no measured sub-network fits the budget: measure the pick (`ufo propose`)"
        if self.pick_arch is None:
            return "every pick is measured already: deploy the best measured one"
        if self.gain > WORTH_IT * self.pick_sd:
            return "the pick is predicted better by more than its sd: measure it (`ufo propose`)"
        if self.gain > 0:
            return (
                "the predicted gain is within the model's noise (one sd): "
                "deploy the best measured one, or measure to be sure"
            )
        return "the best measured one is predicted at least as good: deploy it"

    def record(self) -> dict:
        """decision.json's content."""
        gain, chance = self.gain, self.chance_better
        return {
            "best_measured": None
            if self.measured_arch is None
            else {
                "arch": self.measured_arch,
                "measured_rank": {
                    t: {"rank": r, "of": m} for t, (r, m) in self.measured_ranks.items()
                },
                "fitted": round(self.measured_fitted, 6),
            },
            "best_unmeasured_pick": None
            if self.pick_arch is None
            else {
                "arch": self.pick_arch,
                "predicted": round(self.pick_predicted, 6),
                "predicted_sd": round(self.pick_sd, 6),
            },
            "predicted_gain": None if gain is None else round(gain, 6),
            "gain_sd": None if gain is None else round(self.pick_sd, 6),
            "chance_better": None if chance is None else round(chance, 4),
            "advice": self.advice(),
        }

    def lines(self) -> list[str]:
        """The console's lines: both archs, the gain with its sd, and the advice."""
        lines = []
        if self.measured_arch is not None:
            ranks = ", ".join(f"{t} {r} of {m}" for t, (r, m) in self.measured_ranks.items())
            lines.append(
                f"best measured within budget: {self.measured_arch} "
                f"(measured rank {ranks}; fitted {self.measured_fitted:+.3f})"
            )
        if self.pick_arch is not None:
            text = (
                f"best unmeasured pick: {self.pick_arch} "
                f"(predicted {self.pick_predicted:+.3f} ± {self.pick_sd:.3f}"
            )
            if self.gain is not None:
                text += (
                    f"; predicted gain {self.gain:+.3f} ± {self.pick_sd:.3f}, "
                    f"{format_chance(self.chance_better)} chance better"
                )
            lines.append(text + ")")
        lines.append(self.advice())
        return lines


def format_chance(chance: float) -> str:
    """A chance for people: never "100%" or "0%" (the model is not that sure)."""
    if chance > 0.99:
        return ">99%"
    return "<1%" if chance < 0.01 else f"{chance:.0%}"


def measured_goodness(objective: Objective, measured: Measured) -> np.ndarray:
    """(n,) each training arch's measured goodness for the objective (higher is better;
    NaN where a weighted task is not measured): minus the rank for one task, else the
    weighted mean of minus the normal scores of each task's ranks (module doc)."""
    n = len(measured.archs)
    weighted = [(t, w) for t, w in zip(objective.tasks, objective.weights, strict=True) if w > 0]
    total = np.zeros(n)
    for task, weight in weighted:
        values = np.full(n, np.nan)
        ranks = measured.ranks[task].astype(np.float64)
        values[measured.rows[task]] = -ranks if len(weighted) == 1 else -normal_scores(ranks)
        total += weight * values
    return total / sum(w for _, w in weighted)


def decide(
    objective: Objective,
    measured: Measured,
    costs: np.ndarray,
    limit: float,
    picks: Sequence[str],
    pick_goodness: np.ndarray,
    pick_sd: np.ndarray,
) -> Decision:
    """The decision for one budget. costs: (n,) each training arch's cost; picks, their
    goodness and sd: the search's picks, best first."""
    value = measured_goodness(objective, measured)
    value[~(np.asarray(costs) <= limit)] = np.nan
    measured_arch, ranks, fitted = None, {}, float("nan")
    if np.any(np.isfinite(value)):
        best = int(np.nanargmax(value))  # the first of equals, in the file's order
        measured_arch = measured.archs[best]
        fitted = float(objective.goodness([measured_arch])[0])
        for task, weight in zip(objective.tasks, objective.weights, strict=True):
            if weight > 0:
                where = int(np.flatnonzero(measured.rows[task] == best)[0])
                ranks[task] = (int(measured.ranks[task][where]), len(measured.rows[task]))
    labelled = set(measured.archs)
    unmeasured = [i for i, arch in enumerate(picks) if arch not in labelled]
    if not unmeasured:
        return Decision(measured_arch, ranks, fitted, None, float("nan"), float("nan"))
    first = unmeasured[0]
    return Decision(
        measured_arch,
        ranks,
        fitted,
        picks[first],
        float(pick_goodness[first]),
        float(pick_sd[first]),
    )
