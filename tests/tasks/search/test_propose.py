"""What to evaluate next: the batch rule on hand-made beliefs, and `propose` on fitted
ridge predictors of a synthetic training file (K distinct, unlabelled, within budget)."""

import csv
import json

import numpy as np
import pytest

from schemas.costs import params_cost
from tasks.search.budget import parse_budget
from tasks.search.parameters import SearchParameters
from tasks.search.propose import (
    BEST,
    INFORMATIVE,
    PROPOSAL_FILES,
    RULES,
    choose_batch,
    proposal_records,
    propose,
    write_proposals,
)


def test_expected_improvement_prefers_the_unsure_candidate_over_a_sure_slightly_better_one():
    # the sure one cannot beat the incumbent; the unsure one has a real chance to
    means, sds = np.array([0.85, 0.80]), np.array([0.01, 0.5])
    assert choose_batch(means, sds, incumbent=1.0, k=1, rule="qei") == [(1, INFORMATIVE)]
    assert choose_batch(means, sds, incumbent=1.0, k=1, rule="top") == [(0, BEST)]


def test_diversity_stops_the_batch_from_taking_a_near_copy():
    means, sds = np.array([1.0, 0.99, 0.9]), np.full(3, 0.3)
    kinds = np.array([[0] * 12, [0] * 11 + [1], [5] * 12])  # 1 differs from 0 in one layer
    picked = choose_batch(means, sds, -np.inf, 2, "qei", diversity_features=kinds)
    assert [i for i, _ in picked] == [0, 2]
    assert [reason for _, reason in picked] == [BEST, INFORMATIVE]
    independent = choose_batch(means, sds, -np.inf, 2, "qei")  # no features: no correlation
    assert [i for i, _ in independent] == [0, 1]


@pytest.mark.parametrize("rule", RULES)
def test_every_rule_gives_k_distinct_candidates_deterministically_for_a_seed(rule):
    rng = np.random.default_rng(3)
    means, sds = rng.normal(size=40), rng.uniform(0.1, 1.0, size=40)
    kinds = rng.integers(0, 9, size=(40, 12))

    def run(seed):
        return choose_batch(means, sds, 0.5, 7, rule, kinds, np.random.default_rng(seed))

    first = run(11)
    assert len({i for i, _ in first}) == 7 and first == run(11)
    assert all(reason in (BEST, INFORMATIVE) for _, reason in first)


def test_a_bad_request_is_refused():
    with pytest.raises(ValueError, match="unknown rule"):
        choose_batch([1.0], [1.0], 0.0, 1, "greedy")
    with pytest.raises(ValueError, match="k must be"):
        choose_batch([1.0, 2.0], [1.0, 1.0], 0.0, 3, "top")


@pytest.mark.parametrize("task", ["market1501", "all"])
def test_proposals_are_distinct_unlabelled_within_budget_and_unsure(
    ridge_predictors, demo_train, tmp_path, task
):
    train_archs = demo_train["arch"].tolist()
    budget = parse_budget("params=70M")
    run = SearchParameters(
        train=tmp_path / "train.json",
        objective=task,
        budget=budget,
        latency_table=None,
        top=10,
        predictor="ridge",
        out=tmp_path,
        image_size=256,
        max_evals=600,
    )
    proposals = propose(ridge_predictors, train_archs, run, None, n=6, seed=0)
    archs = proposals.scored.archs
    assert len(set(archs)) == 6 and not set(archs) & set(train_archs)
    assert np.all(params_cost().of_archs(archs) <= budget.limit)
    assert np.all(proposals.scored.sd > 0) and len(proposals.reasons) == 6
    records = proposal_records(proposals)
    assert [r["arch"] for r in records] == archs
    assert all(r["predicted_sd"] > 0 and r["reason"] in (BEST, INFORMATIVE) for r in records)
    assert set(records[0]["sd_per_task"]) == set(ridge_predictors)
    written = write_proposals(tmp_path / "out", records)
    assert sorted(written) == sorted(PROPOSAL_FILES)
    assert json.loads((tmp_path / "out" / "proposals.json").read_text()) == records
    with open(tmp_path / "out" / "proposals.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["arch"] for r in rows] == archs and "sd_market1501" in rows[0]


def test_archs_already_labelled_are_never_proposed(ridge_predictors, demo_train, tmp_path):
    # label the first proposals (as if measured): the next batch must avoid them all
    train_archs = demo_train["arch"].tolist()
    run = SearchParameters(
        train=tmp_path / "train.json",
        objective="sop",
        budget=parse_budget("params=75M"),
        latency_table=None,
        top=10,
        predictor="ridge",
        out=tmp_path,
        image_size=256,
        max_evals=400,
    )
    first = propose(ridge_predictors, train_archs, run, None, n=8, seed=0).scored.archs
    second = propose(ridge_predictors, train_archs + first, run, None, n=8, seed=0).scored.archs
    assert len(second) == 8 and not set(first) & set(second)
