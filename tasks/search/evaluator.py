"""Counting evaluations of the full model: every search (refine.py, baselines.py) scores
archs through one `Evaluator`, which scores each distinct arch once, refuses to score more
than `max_evals` of them, checks for a stop request between batches, and reports progress
(evaluations done of the budget, the best so far) at most once a second."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tasks import cancellation
from tasks.events import event
from tasks.search.front import QuantisedCost
from tasks.search.objective import SearchObjective

log = logging.getLogger(__name__)

PROGRESS_EVERY_SECONDS = 1.0


@dataclass(frozen=True)
class Candidate:
    arch: str
    cost: float
    goodness: float


class Evaluator:
    """Scores distinct archs with the full objective, at most `max_evals` in all, and
    remembers every score in evaluation order."""

    def __init__(self, objective: SearchObjective, max_evals: int, label: str = "search") -> None:
        if max_evals < 1:
            raise ValueError(f"max_evals must be >= 1, got {max_evals}")
        self.objective = objective
        self.max_evals = int(max_evals)
        self.label = label  # what the progress events call this search ("front", "picks")
        self.archs: list[str] = []
        self.values: list[float] = []
        self._index: dict[str, int] = {}
        self._started = self._last_report = time.monotonic()

    @property
    def n_evals(self) -> int:
        return len(self.archs)

    @property
    def remaining(self) -> int:
        return self.max_evals - len(self.archs)

    def __contains__(self, code: str) -> bool:
        return code in self._index

    def unseen(self, codes: Sequence[str]) -> list[str]:
        """The distinct codes not evaluated yet, in order of first appearance."""
        return [c for c in dict.fromkeys(codes) if c not in self._index]

    def evaluate(self, codes: Sequence[str]) -> np.ndarray:
        """Goodness of each code; the new ones are scored in one batch, which must fit
        within the evaluations left."""
        new = self.unseen(codes)
        if len(new) > self.remaining:
            raise RuntimeError(f"{len(new)} new archs but only {self.remaining} evaluations left")
        cancellation.check()  # between batches: a Ctrl-C stops the search here
        if new:
            values = np.asarray(self.objective.goodness(new), dtype=np.float64)
            if values.shape != (len(new),) or not np.all(np.isfinite(values)):
                raise RuntimeError("the objective returned a malformed goodness vector")
            for code, value in zip(new, values.tolist(), strict=True):
                self._index[code] = len(self.archs)
                self.archs.append(code)
                self.values.append(value)
            self._report_progress()
        return np.array([self.values[self._index[c]] for c in codes])

    def _report_progress(self) -> None:
        """At most one progress record a second (and one at the end): evaluations done of
        the budget and the best goodness so far, for the console and the run logs."""
        now = time.monotonic()
        if now - self._last_report < PROGRESS_EVERY_SECONDS and self.remaining > 0:
            return
        self._last_report = now
        best = max(self.values)
        log.info(
            "%s: %d of %d evaluations, best so far %+.3f",
            self.label,
            self.n_evals,
            self.max_evals,
            best,
            extra=event(
                "search-progress",
                label=self.label,
                done=self.n_evals,
                total=self.max_evals,
                best=best,
                seconds=now - self._started,
            ),
        )

    def evaluate_some(self, codes: Sequence[str]) -> list[str]:
        """Evaluate as many of the unseen `codes` as evaluations allow; return those."""
        new = self.unseen(codes)[: self.remaining]
        self.evaluate(new)
        return new

    def best(self, cost: QuantisedCost, budget: float, top: int) -> list[Candidate]:
        """The `top` best evaluated archs within the budget, best first (ties: first
        evaluated first)."""
        if not self.archs:
            return []
        costs = cost.of_archs(self.archs)
        values = np.asarray(self.values)
        order = [i for i in np.argsort(-values, kind="stable") if costs[i] <= budget][:top]
        return [Candidate(self.archs[i], float(costs[i]), float(values[i])) for i in order]
