"""The objective: direction, the 'all' standardisation and weights, objective specs
(groups, weighted lists), the additive form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import kendalltau, spearmanr

from schemas.costs import macs_cost, params_cost
from schemas.objectives import TaskSpecError, describe_objective, describe_weights, parse_task_spec
from schemas.search_space import TASK_GROUPS, TASKS, sample_archs
from tasks.files.reading import read_competition_file
from tasks.predict.predictors.base import Predictor, goodness
from tasks.search.front import exact_front
from tasks.search.objective import build_objective
from tests.tasks.search.conftest import fit_all


class _SquaredSum(Predictor):
    """A non-additive toy: the square of the feature sum."""

    name = "squared-sum"
    description = "toy"

    def _fit(self, X, y):
        pass

    def _predict(self, X):
        return X.sum(axis=1) ** 2


def test_goodness_reverses_rank_order():
    assert goodness(np.array([0.0, 3.0, -1.0])).tolist() == [-0.0, -3.0, 1.0]


def test_single_task_is_that_predictors_goodness_and_follows_rank_0_best(
    demo_train, ridge_predictors
):
    archs = demo_train["arch"].tolist()
    objective = build_objective(ridge_predictors, archs, "market1501")
    X = objective._features(archs)
    assert np.array_equal(
        objective.goodness(archs), goodness(ridge_predictors["market1501"].predict(X))
    )
    # rank 0 is best: the archs the objective likes most have the smallest true ranks
    rho = spearmanr(objective.goodness(archs), demo_train["market1501_rank"]).statistic
    assert rho < -0.5


def test_on_the_real_file_bigger_archs_are_predicted_better(shared_train):
    frame, _ = read_competition_file(shared_train)
    archs = frame["arch"].tolist()
    predictors = fit_all(frame, "ridge")
    params = params_cost().of_archs(archs)
    for task in TASKS:
        task_goodness = build_objective(predictors, archs, task).goodness(archs)
        assert kendalltau(params, task_goodness).statistic > 0, task
        assert kendalltau(params, frame[f"{task}_rank"].astype(float)).statistic < 0, task


def test_all_is_the_mean_of_standardised_task_goodness(demo_train, ridge_predictors):
    train = demo_train["arch"].tolist()
    objective = build_objective(ridge_predictors, train, "all")
    on_train = objective.per_task(train)
    z = (on_train - on_train.mean(axis=0)) / on_train.std(axis=0)
    assert objective.tasks == TASKS and on_train.shape == (len(train), 8)
    assert np.allclose(objective.goodness(train), z.mean(axis=1))
    others = sample_archs(50, np.random.default_rng(1))
    z_other = (objective.per_task(others) - on_train.mean(axis=0)) / on_train.std(axis=0)
    assert np.allclose(objective.goodness(others), z_other.mean(axis=1))


def test_all_with_weights(demo_train, ridge_predictors):
    train = demo_train["arch"].tolist()
    weights = {"market1501": 3.0, "cplfw": 0.0}  # unnamed tasks weigh 1
    objective = build_objective(ridge_predictors, train, "all", weights)
    on_train = objective.per_task(train)
    z = (on_train - on_train.mean(axis=0)) / on_train.std(axis=0)
    w = np.array([0.0, 3.0, 1, 1, 1, 1, 1, 1])
    assert np.allclose(objective.goodness(train), z @ w / w.sum())


@pytest.mark.parametrize("spec", ["face", "cplfw:3"])
def test_one_task_named_through_a_group_or_with_a_weight_is_that_task(
    demo_train, ridge_predictors, spec
):
    archs = demo_train["arch"].tolist()
    plain = build_objective(ridge_predictors, archs, "cplfw")
    objective = build_objective(ridge_predictors, archs, spec)
    assert not objective.standardised and objective.weights.tolist() == plain.weights.tolist()
    assert np.array_equal(objective.goodness(archs), plain.goodness(archs))


def test_every_task_listed_alike_is_all(demo_train, ridge_predictors):
    archs = demo_train["arch"].tolist()
    every = ",".join(reversed(TASKS))
    assert np.allclose(
        build_objective(ridge_predictors, archs, every).goodness(archs),
        build_objective(ridge_predictors, archs, "all").goodness(archs),
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("spec", ["cplfw:2,market1501:1", "face,person", "vehicle:3,sop"])
def test_a_list_is_the_weighted_mean_of_its_standardised_tasks(demo_train, ridge_predictors, spec):
    train = demo_train["arch"].tolist()
    objective = build_objective(ridge_predictors, train, spec)
    on_train = objective.per_task(train)
    z = (on_train - on_train.mean(axis=0)) / on_train.std(axis=0)
    w = np.array([parse_task_spec(spec).get(t, 0.0) for t in TASKS])
    assert objective.standardised and np.allclose(objective.weights, w)
    others = sample_archs(50, np.random.default_rng(6))
    z_other = (objective.per_task(others) - on_train.mean(axis=0)) / on_train.std(axis=0)
    assert np.allclose(objective.goodness(train), z @ w)
    assert np.allclose(objective.goodness(others), z_other @ w)


@pytest.mark.parametrize("spec", ["market1501", "all", "person", "cplfw:2,market1501:1"])
def test_the_objective_names_itself_in_words(demo_train, ridge_predictors, spec):
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), spec)
    assert objective.description == describe_objective(spec)


def test_weights_on_all_are_named_as_they_weigh(demo_train, ridge_predictors):
    weights = {"market1501": 3.0, "cplfw": 0.0}
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), "all", weights)
    expected = {t: weights.get(t, 1.0) for t in TASKS}
    assert objective.description == describe_weights(expected)


@pytest.mark.parametrize(
    "task, weights",
    [
        ("market1501", None),
        ("all", None),
        ("all", {"sop": 4.0, "veri": 0.0}),
        ("cplfw:2,market1501:1", None),
        ("face,vehicle:3", None),
    ],
)
def test_additive_form_equals_the_objective(demo_train, ridge_predictors, task, weights):
    # standardised on a subset: on all fitted rows a ridge's mean goodness is ~0, and
    # the mean's share of the additive terms would go unchecked
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist()[:40], task, weights)
    assert task != "all" or np.abs(objective.means).max() > 0.05
    additive = objective.additive()
    archs = sample_archs(300, np.random.default_rng(2))
    assert additive is not None and additive.layer_terms.shape == (12, 9)
    assert np.allclose(additive.of_archs(archs), objective.goodness(archs), rtol=0, atol=1e-9)


@pytest.mark.parametrize("task", ["market1501", "all", "cplfw:2,market1501:1"])
@pytest.mark.parametrize("cost", [params_cost(), macs_cost()], ids=lambda c: c.name)
def test_front_goodness_recomputed_by_the_objective_equals_the_dp_value(
    demo_train, ridge_predictors, task, cost
):
    objective = build_objective(ridge_predictors, demo_train["arch"].tolist(), task)
    front = exact_front(objective.additive(), cost)
    assert len(front) > 10
    assert np.allclose(objective.goodness(list(front.archs)), front.goodness, rtol=0, atol=1e-9)


def test_additive_is_none_when_any_used_predictor_is_not_ridge(demo_train, ridge_predictors):
    train = demo_train["arch"].tolist()
    X = build_objective(ridge_predictors, train, "sop")._features(train)
    mixed = {**ridge_predictors, "sop": _SquaredSum().fit(X, np.arange(len(X)))}
    assert build_objective(mixed, train, "all").additive() is None
    assert build_objective(mixed, train, "sop").additive() is None
    assert build_objective(mixed, train, "market1501").additive() is not None
    assert build_objective(mixed, train, "all", {"sop": 0.0}).additive() is not None


def test_bad_requests_are_refused(demo_train, ridge_predictors):
    train = demo_train["arch"].tolist()
    with pytest.raises(TaskSpecError, match="unknown task or group 'imagenet'"):
        build_objective(ridge_predictors, train, "imagenet")
    with pytest.raises(TaskSpecError, match="named twice"):
        build_objective(ridge_predictors, train, "person,msmt17")
    with pytest.raises(TaskSpecError, match="finite number > 0"):
        build_objective(ridge_predictors, train, "cplfw:0,sop")
    person = list(TASK_GROUPS["person"])
    with pytest.raises(ValueError, match=r"needs predictors for \['sop'\]"):
        build_objective({t: ridge_predictors[t] for t in person}, train, "person,sop")
    with pytest.raises(ValueError, match="weights apply"):
        build_objective(ridge_predictors, train, "sop", {"sop": 1.0})
    with pytest.raises(ValueError, match="without a predictor"):
        build_objective({"sop": ridge_predictors["sop"]}, train, "all", {"veri": 1.0})
    with pytest.raises(ValueError, match="not all 0"):
        build_objective(ridge_predictors, train, "all", dict.fromkeys(TASKS, 0.0))
