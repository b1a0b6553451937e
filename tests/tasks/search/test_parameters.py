"""Search parameters: every problem reported at once, before any work starts."""

import pytest

from tasks.errors import ParameterError
from tasks.search.parameters import check_search_parameters
from tests.factories import ARCH_J, train_records, write_json


@pytest.fixture
def train(tmp_path):
    return write_json(tmp_path / "train.json", train_records([ARCH_J] * 4))


def _check(train, **overrides):
    options = dict(
        train=train,
        task="all",
        budget="params=60M",
        latency_table=None,
        top=10,
        predictor="ridge",
        out=None,
        image_size=256,
        max_evals=1000,
    )
    return check_search_parameters(**{**options, **overrides})


def test_good_parameters_resolve_tasks_and_budget(train):
    run = _check(train, task="market1501", budget="macs=20G")
    assert run.objective == "market1501"
    assert (run.budget.metric, run.budget.limit) == ("macs", 20e9)
    assert _check(train).objective == "all"


def test_every_problem_is_named_in_one_message(tmp_path, train):
    with pytest.raises(ParameterError) as raised:
        _check(
            tmp_path / "missing.json",
            task="imagenet",
            budget="latency=5ms",
            predictor="nope",
            top=0,
            image_size=250,
            max_evals=5,
        )
    message = str(raised.value)
    for part in (
        "missing.json does not exist",
        "unknown task or group 'imagenet'",
        "needs a latency table",
        "unknown predictor 'nope'",
        "top must be a positive whole number",
        "multiple of the patch size",
        "max evaluations must be",
    ):
        assert part in message


def test_output_must_be_a_folder(tmp_path, train):
    with pytest.raises(ParameterError, match="is a file; give a folder"):
        _check(train, out=train)
