"""Search parameters: every problem reported at once, before any work starts."""

import json
from pathlib import Path

import pytest

from schemas.costs import MAX_IMAGE_SIZE
from tasks.errors import ParameterError
from tasks.latency.table import latency_table_document, read_latency_table
from tasks.safety.limits import MAX_COST_TERM
from tasks.search.parameters import (
    ESTIMATE_ABOVE_SECONDS,
    MAX_MAX_EVALS,
    MS_PER_EVALUATION,
    check_search_output,
    check_search_parameters,
    estimated_search_seconds,
)
from tests.factories import ARCH_J, train_records, write_json

EXAMPLE_TABLE = Path(__file__).resolve().parents[3] / "data" / "examples" / "latency_table_cpu.json"


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


def _table(tmp_path, name="table.json", **fields) -> Path:
    document = latency_table_document(read_latency_table(EXAMPLE_TABLE), **fields)
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return path


def test_a_table_measured_at_another_image_size_is_used_with_a_warning(tmp_path, train):
    table = _table(tmp_path, image_size=224)
    run = _check(train, budget="latency=300ms", latency_table=table, image_size=256)
    (warning,) = run.warnings
    assert f"latency table {table} was measured at image size 224, the search uses 256" in warning
    assert _check(train, budget="latency=300ms", latency_table=table, image_size=224).warnings == ()
    unsized = _table(tmp_path, "unsized.json")
    assert _check(train, budget="latency=300ms", latency_table=unsized).warnings == ()


def test_more_picks_than_the_evaluations_can_give_is_a_warning(train):
    (warning,) = _check(train, top=1_000_000, max_evals=5_000).warnings
    assert warning == (
        "--top 1000000 is more than the 5000 model evaluations (--max-evals) can give: "
        "at most 5000 picks"
    )
    assert _check(train, top=5_000, max_evals=5_000).warnings == ()


def test_max_evals_above_a_few_minutes_gets_an_estimate_before_the_work(train):
    """The estimate is two searches (front, picks) at the measured rate of the objective."""
    one, every = MS_PER_EVALUATION[1], MS_PER_EVALUATION[8]
    assert estimated_search_seconds("sop", 1_000_000) == pytest.approx(2 * 1_000_000 * one / 1e3)
    assert estimated_search_seconds("all", 10) == pytest.approx(2 * 10 * every / 1e3)
    assert one < estimated_search_seconds("person", 500_000) / 1e3 < every  # 3 tasks
    quiet = int(ESTIMATE_ABOVE_SECONDS / (2 * every / 1e3)) - 1
    assert _check(train, task="all", max_evals=quiet).warnings == ()
    (warning,) = _check(train, task="all", max_evals=3_000_000).warnings
    assert warning.startswith("--max-evals 3,000,000: the search step alone will take about 41 min")
    assert "bench/search_rate.py" in warning


def test_max_evals_beyond_what_memory_allows_is_refused(train):
    _check(train, max_evals=MAX_MAX_EVALS)
    with pytest.raises(ParameterError, match=r"at most 10,000,000, got 10,000,001: .*0.5 KB each"):
        _check(train, max_evals=MAX_MAX_EVALS + 1)


def test_a_folder_given_as_the_latency_table_is_named_a_folder(tmp_path, train):
    with pytest.raises(ParameterError, match=f"latency table {tmp_path} is a folder"):
        _check(train, budget="latency=300ms", latency_table=tmp_path)


def test_inputs_beyond_the_search_arithmetic_are_refused_before_any_work(tmp_path, train):
    with pytest.raises(ParameterError, match=f"at most {MAX_IMAGE_SIZE}, got 100000"):
        _check(train, image_size=100_000)
    document = latency_table_document(read_latency_table(EXAMPLE_TABLE))
    document["layers"]["heads12-mlp4.0"] = 3e16
    (tmp_path / "huge.json").write_text(json.dumps(document))
    with pytest.raises(ParameterError) as raised:
        _check(train, budget="latency=300ms", latency_table=tmp_path / "huge.json")
    assert "entry 'heads12-mlp4.0', field 'layers'" in str(raised.value)
    assert f"at most {MAX_COST_TERM} ms" in str(raised.value)


def test_the_report_folder_is_checked_before_any_work(tmp_path, train):
    out = tmp_path / "report"
    out.mkdir()
    (out / "picks.json").write_text("[]")  # the user's own
    run = _check(train, out=out)
    with pytest.raises(ParameterError, match="picks.json exists and was not written by ufo"):
        check_search_output(run, replace_any=False)
    check_search_output(run, replace_any=True)  # --force
    renamed = train.parent / "front.json"
    train.rename(renamed)
    as_input = _check(renamed, out=train.parent)
    with pytest.raises(ParameterError, match=r"front\.json is the train file"):
        check_search_output(as_input, replace_any=True)
