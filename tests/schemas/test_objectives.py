"""Objective specs: tasks, groups, 'all' and weights, read into normalised task weights."""

import pytest

from schemas.objectives import (
    ALL_TASKS,
    TaskSpecError,
    describe_objective,
    describe_weights,
    parse_task_spec,
)
from schemas.search_space import TASK_GROUPS, TASKS

PERSON = TASK_GROUPS["person"]


def test_one_task_weighs_one_whatever_its_weight():
    assert parse_task_spec("cplfw") == parse_task_spec("cplfw:3") == {"cplfw": 1.0}


def test_all_is_every_task_alike_in_task_order():
    weights = parse_task_spec(ALL_TASKS)
    assert list(weights) == list(TASKS)
    assert set(weights.values()) == {1 / len(TASKS)}


@pytest.mark.parametrize("group", sorted(TASK_GROUPS))
def test_a_group_is_its_tasks_alike(group):
    tasks = TASK_GROUPS[group]
    assert parse_task_spec(group) == {t: pytest.approx(1 / len(tasks)) for t in tasks}


def test_items_come_back_in_task_order_with_spaces_ignored():
    assert list(parse_task_spec(" sop , cplfw:2 ")) == ["cplfw", "sop"]


def test_weights_are_normalised():
    weights = parse_task_spec("cplfw:2,market1501:1")
    assert weights == {"cplfw": pytest.approx(2 / 3), "market1501": pytest.approx(1 / 3)}


def test_a_group_shares_its_weight_among_its_tasks():
    weights = parse_task_spec("face,person")
    assert weights["cplfw"] == pytest.approx(1 / 2)
    assert [weights[t] for t in PERSON] == pytest.approx([1 / (2 * len(PERSON))] * len(PERSON))
    # a group weighted by its size is the same as naming its tasks
    assert parse_task_spec(f"person:{len(PERSON)},sop") == pytest.approx(
        parse_task_spec(",".join((*PERSON, "sop")))
    )


@pytest.mark.parametrize(
    "spec, problem",
    [
        ("", "empty objective spec"),
        ("   ", "empty objective spec"),
        (None, "is a string"),
        ("cplfw,", "empty item"),
        (",cplfw", "empty item"),
        ("cplfw,,sop", "empty item"),
        (":2", "empty item"),
        ("imagenet", "unknown task or group 'imagenet'"),
        ("Person", "unknown task or group 'Person'"),
        ("cplfw:0", "must be a finite number > 0, got '0'"),
        ("cplfw:-1", "must be a finite number > 0"),
        ("cplfw:nan", "must be a finite number > 0"),
        ("cplfw:inf", "must be a finite number > 0"),
        ("cplfw:1e999", "must be a finite number > 0"),
        ("cplfw:", "weight '' of 'cplfw:' is not a number"),
        ("cplfw:two", "weight 'two' of 'cplfw:two' is not a number"),
        ("cplfw,cplfw", "'cplfw' is named twice"),
        ("person,market1501", r"'market1501' is named twice .* \(by 'person' and 'market1501'\)"),
        ("msmt17,person", r"'msmt17' is named twice .* \(by 'msmt17' and 'person'\)"),
        ("all,sop", r"'sop' is named twice .* \(by 'all' and 'sop'\)"),
    ],
)
def test_bad_specs_are_refused_naming_the_problem(spec, problem):
    with pytest.raises(TaskSpecError, match=problem):
        parse_task_spec(spec)


def test_spec_errors_are_value_errors():
    assert issubclass(TaskSpecError, ValueError)


@pytest.mark.parametrize(
    "spec, words",
    [
        ("cplfw", "cplfw"),
        ("face", "cplfw"),
        ("sop:5", "sop"),
        (ALL_TASKS, f"mean of all {len(TASKS)} tasks"),
        ("person", "mean of market1501, dukemtmc and msmt17"),
        ("cplfw:2,market1501:1", "weighted mean of cplfw (2/3) and market1501 (1/3)"),
        ("sop:0.3,cplfw:0.7", "weighted mean of cplfw (7/10) and sop (3/10)"),
        ("cplfw:1.2345,sop:1", "weighted mean of cplfw (0.552) and sop (0.448)"),
        (
            "face,person",
            "weighted mean of cplfw (1/2), market1501 (1/6), dukemtmc (1/6) and msmt17 (1/6)",
        ),
    ],
)
def test_objectives_are_named_in_words(spec, words):
    assert describe_objective(spec) == words


def test_weights_of_zero_are_left_out_of_the_words():
    assert describe_weights({"cplfw": 0.0, "sop": 2.0}) == "sop"
    with pytest.raises(TaskSpecError, match="no task has a weight > 0"):
        describe_weights(dict.fromkeys(TASKS, 0.0))
