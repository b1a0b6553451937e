"""A requested stop reaches the search between batches, from another thread."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest

from schemas.costs import params_cost
from tasks import cancellation
from tasks.search.evaluator import Evaluator
from tasks.search.refine import search_budget


class SlowObjective:
    """Goodness by arch length parity; asks for a stop after its `stop_after`-th batch."""

    def __init__(self, stop_after: int):
        self.batches = 0
        self.stop_after = stop_after

    def goodness(self, codes):
        self.batches += 1
        if self.batches == self.stop_after:
            threading.Thread(target=cancellation.request).start()  # as the CLI's handler does
        return np.array([float(sum(map(ord, c)) % 97) for c in codes])

    def additive(self):
        return None


@pytest.fixture(autouse=True)
def _fresh():
    cancellation.reset()
    yield
    cancellation.reset()


def test_a_stop_requested_mid_search_ends_it_at_the_next_batch():
    objective = SlowObjective(stop_after=3)
    with pytest.raises(cancellation.Cancelled):
        search_budget(objective, params_cost(), 70e6, max_evals=100_000, top=3)
    assert objective.batches <= 4  # not the 100,000 evaluations asked for


def test_without_a_stop_the_search_runs_to_its_budget_and_reports_progress(caplog):
    caplog.set_level(logging.INFO, logger="tasks.search.evaluator")
    found = search_budget(SlowObjective(stop_after=-1), params_cost(), 70e6, max_evals=300, top=3)
    assert len(found) == 3
    done = [
        r.ufo_event
        for r in caplog.records
        if getattr(r, "ufo_event", {}).get("kind") == "search-progress"
    ]
    assert done and done[-1]["done"] == 300 and done[-1]["total"] == 300


def test_an_evaluator_refuses_to_score_once_a_stop_was_requested():
    evaluator = Evaluator(SlowObjective(stop_after=-1), max_evals=10)
    cancellation.request()
    with pytest.raises(cancellation.Cancelled):
        evaluator.evaluate(["x"])
    assert evaluator.n_evals == 0
