"""The decision beside a search's picks: the best measured arch within the budget, the best
unmeasured pick, the predicted gain with its sd, and the advice."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.costs import params_cost
from schemas.search_space import RANK_FIELDS, TASKS
from tasks.predict.predictors.base import normal_scores
from tasks.search.choose import choose_subnetworks
from tasks.search.decision import Decision, Measured, decide, measured_goodness
from tasks.search.objective import build_objective, objective_sd, sd_per_task
from tasks.search.parameters import check_search_parameters


@pytest.fixture
def archs(demo_train):
    return demo_train["arch"].tolist()


def _measured(frame, tasks=TASKS, drop: dict | None = None) -> Measured:
    """Every task's ranks from the frame; `drop`: task -> rows that do not measure it
    (the remaining rows' ranks re-ranked 0..m-1, as a measurements file gives them)."""
    drop = drop or {}
    ranks, rows = {}, {}
    for task, field in zip(TASKS, RANK_FIELDS, strict=True):
        if task not in tasks:
            continue
        keep = np.setdiff1d(np.arange(len(frame)), drop.get(task, []))
        values = frame[field].to_numpy()[keep]
        ranks[task] = np.argsort(np.argsort(values, kind="stable"), kind="stable")
        rows[task] = keep
    return Measured.of(frame["arch"].tolist(), ranks, rows)


def test_one_task_the_best_measured_is_the_lowest_rank_within_the_budget(
    demo_train, archs, ridge_predictors
):
    objective = build_objective(ridge_predictors, archs, task="sop")
    measured = _measured(demo_train)
    costs = params_cost(224).of_archs(archs)
    limit = float(np.median(costs))
    decision = decide(objective, measured, costs, limit, [], np.zeros(0), np.zeros(0))
    within = costs <= limit
    ranks = measured.ranks["sop"]
    best = int(np.flatnonzero(within)[np.argmin(ranks[within])])
    assert decision.measured_arch == archs[best]
    assert decision.measured_ranks == {"sop": (int(ranks[best]), len(archs))}
    assert decision.measured_fitted == pytest.approx(objective.goodness([archs[best]])[0])
    assert ranks[best] > ranks.min()  # the budget matters: the overall best is over it


def test_several_tasks_weigh_normal_scores_and_skip_archs_missing_a_weighted_task(
    demo_train, archs, ridge_predictors
):
    objective = build_objective(ridge_predictors, archs, task="market1501,sop")
    plain = measured_goodness(objective, _measured(demo_train))
    first = int(np.nanargmax(plain))
    measured = _measured(demo_train, drop={"sop": [first]})  # the best lacks sop now
    value = measured_goodness(objective, measured)
    assert np.isnan(value[first]) and np.isfinite(np.delete(value, first)).all()
    expected = -(normal_scores(measured.ranks["market1501"]))
    sop = np.full(len(archs), np.nan)
    sop[measured.rows["sop"]] = -normal_scores(measured.ranks["sop"])
    assert np.allclose(np.delete(value, first), np.delete((expected + sop) / 2, first))
    costs = np.zeros(len(archs))
    decision = decide(objective, measured, costs, 1.0, [], np.zeros(0), np.zeros(0))
    assert decision.measured_arch == archs[int(np.nanargmax(value))] != archs[first]


def test_a_task_outside_the_objective_may_be_missing(demo_train, archs, ridge_predictors):
    objective = build_objective(ridge_predictors, archs, task="cplfw")
    measured = _measured(demo_train, drop={"sop": list(range(100))})
    assert np.isfinite(measured_goodness(objective, measured)).all()


def test_the_gain_is_the_first_unmeasured_pick_against_the_measured_arch(
    demo_train, archs, ridge_predictors
):
    objective = build_objective(ridge_predictors, archs, task="all")
    measured = _measured(demo_train)
    picks = [archs[3], "j" + "1" * 36, archs[7]]  # a labelled pick first: skipped
    goodness = objective.goodness(picks)
    sd = objective_sd(objective, sd_per_task(objective, picks))
    decision = decide(objective, measured, np.zeros(len(archs)), 1.0, picks, goodness, sd)
    assert decision.pick_arch == picks[1]
    assert decision.pick_sd == pytest.approx(sd[1]) and sd[1] > 0
    assert decision.gain == pytest.approx(goodness[1] - decision.measured_fitted)
    every_measured = decide(
        objective, measured, np.zeros(len(archs)), 1.0, [archs[3]], goodness[:1], sd[:1]
    )
    assert every_measured.pick_arch is None and every_measured.gain is None
    assert "every pick is measured" in every_measured.advice()


def test_nothing_measured_within_the_budget(demo_train, archs, ridge_predictors):
    objective = build_objective(ridge_predictors, archs, task="sop")
    costs = np.ones(len(archs))
    decision = decide(
        objective, _measured(demo_train), costs, 0.5, ["j" + "1" * 36], np.ones(1), np.ones(1)
    )
    assert decision.measured_arch is None and decision.gain is None
    record = decision.record()
    assert record["best_measured"] is None and record["predicted_gain"] is None
    assert "no measured sub-network fits the budget" in record["advice"]


@pytest.mark.parametrize(
    ("predicted", "advice"),
    [
        (2.5, "measure it"),  # gain 2.0 > 1 sd
        (1.0, "within the model's noise"),  # gain 0.5: within one sd
        (0.3, "predicted at least as good: deploy it"),  # gain -0.2
    ],
)
def test_the_advice_follows_the_gain_in_sds(predicted, advice):
    decision = Decision("j" + "1" * 36, {"sop": (3, 50)}, 0.5, "j" + "2" * 36, predicted, 1.0)
    assert advice in decision.advice()
    record = decision.record()
    assert record["predicted_gain"] == pytest.approx(predicted - 0.5)
    assert record["chance_better"] == pytest.approx(
        float(__import__("scipy").stats.norm.cdf(predicted - 0.5)), abs=1e-4
    )
    assert advice in decision.lines()[-1]


def test_the_search_scores_picks_and_front_with_sds_and_decides(
    demo_train, archs, ridge_predictors
):
    run = check_search_parameters(
        train=None, task="all", budget="params=70M", latency_table=None, top=5,
        predictor="ridge", out=None, image_size=224, max_evals=500,
    )  # fmt: skip
    outcome = choose_subnetworks(ridge_predictors, archs, run, None, measured=_measured(demo_train))
    for scored in (outcome.picks, outcome.front):
        assert scored.sd.shape == (len(scored.archs),) and np.all(scored.sd > 0)
        assert set(scored.sd_per_task) == set(TASKS)
    assert outcome.decision.pick_arch in outcome.picks.archs
    assert outcome.decision.measured_arch in archs
    assert "±" in outcome.best_line()
