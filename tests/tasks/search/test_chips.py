"""Several chips in one search: pairing budgets with tables, the chips file, the checks."""

from __future__ import annotations

import json

import pytest

from schemas.costs import AdditiveCost
from tasks.errors import ParameterError
from tasks.latency.table import write_latency_table
from tasks.search.chips import (
    ChipSpec,
    check_search_request,
    pair_budgets_and_tables,
    read_chips_file,
)
from tasks.search.parameters import DEFAULT_MAX_EVALS, check_search_parameters
from tests.factories import ARCH_J, train_records, write_json

KINDS = 9


@pytest.fixture
def files(tmp_path):
    train = write_json(tmp_path / "train.json", train_records([ARCH_J]))
    tables = []
    for name, per_layer in (("a", 20.0), ("b", 30.0)):
        path = tmp_path / f"{name}.json"
        write_latency_table(path, AdditiveCost("latency", "ms", 5.0, (per_layer,) * KINDS))
        tables.append(path)
    return train, tables


def _common(train):
    return dict(
        train=str(train), task="all", top=3, predictor="ridge", image_size=256,
        max_evals=DEFAULT_MAX_EVALS,
    )  # fmt: skip


def test_the_nth_table_goes_with_the_nth_latency_budget():
    chips = pair_budgets_and_tables(
        ["latency=300ms", "params=60M", "latency=400ms"], ["a.json", "dir/b.json"]
    )
    assert chips == [
        ChipSpec("a", "latency=300ms", "a.json"),
        ChipSpec("params-60M", "params=60M", None),
        ChipSpec("b", "latency=400ms", "dir/b.json"),
    ]


def test_one_budget_is_a_single_search_without_a_chip_name():
    assert pair_budgets_and_tables(["params=60M"], []) == [ChipSpec("", "params=60M", None)]


@pytest.mark.parametrize(
    "budgets,tables",
    [(["latency=300ms", "latency=400ms"], ["a.json"]), (["params=60M", "macs=18G"], ["a.json"])],
)
def test_a_table_count_that_does_not_match_the_latency_budgets_is_refused(budgets, tables):
    with pytest.raises(ParameterError, match="one table per latency budget"):
        pair_budgets_and_tables(budgets, tables)


def test_two_chips_get_a_folder_each_under_the_output(files, tmp_path):
    train, (a, b) = files
    searches = check_search_request(
        ["latency=300ms", "latency=400ms"], [str(a), str(b)], None, tmp_path / "out",
        check_search_parameters, **_common(train),
    )  # fmt: skip
    assert searches.several and searches.chips == ("a", "b")
    assert [r.out for r in searches.runs] == [tmp_path / "out" / "a", tmp_path / "out" / "b"]
    assert [r.budget.limit for r in searches.runs] == [300.0, 400.0]


def test_every_chips_problem_is_named_with_its_chip(files, tmp_path):
    train, (a, _) = files
    with pytest.raises(ParameterError) as error:
        check_search_request(
            ["latency=1ms", "latency=300ms"], [str(a), str(tmp_path / "missing.json")], None,
            tmp_path / "out", check_search_parameters, **_common(train),
        )  # fmt: skip
    message = str(error.value)
    assert "chip a: budget latency=1ms is below the smallest sub-network" in message
    assert "chip missing: latency table" in message and "does not exist" in message


def test_a_chips_file_names_the_chips_and_reads_tables_beside_it(files, tmp_path):
    train, (a, _) = files
    chips = tmp_path / "chips.json"
    chips.write_text(json.dumps([
        {"name": "phone", "budget": "latency=300ms", "latency_table": a.name},
        {"name": "server", "budget": "params=70M"},
    ]))  # fmt: skip
    searches = check_search_request(
        "params=60M", None, chips, tmp_path / "out", check_search_parameters, **_common(train)
    )
    assert searches.chips == ("phone", "server")
    assert searches.runs[0].latency_table == a and searches.runs[1].latency_table is None


@pytest.mark.parametrize(
    "content,problem",
    [
        ("[]", "non-empty JSON list"),
        ('[{"name": "x"}]', "chip 1 (x), field budget"),
        ('[{"name": "../up", "budget": "params=60M"}]', "chip 1, field name"),
        ('[{"name": "x", "budget": "params=60M", "colour": 1}]', "unknown field 'colour'"),
        ('[{"name": "x", "budget": "params=60M"}, {"name": "x", "budget": "macs=18G"}]', "'x' is used twice"),
        ("{", "not a JSON file"),
    ],
)  # fmt: skip
def test_a_bad_chips_file_is_refused_naming_the_entry_and_field(tmp_path, content, problem):
    path = tmp_path / "chips.json"
    path.write_text(content)
    with pytest.raises(ParameterError, match="chips.json") as error:
        read_chips_file(path)
    assert problem in str(error.value)


def test_the_console_table_fits_long_chip_names():
    from tasks.search.chips_report import summary_table

    rows = [
        {"chip": name, "budget": "latency=300ms", "best_pick": "j" + "1" * 36,
         "cost_text": "299.10 ms", "predicted": 0.5}
        for name in ("latency_table_cortex_a76_4threads", "gate")
    ]  # fmt: skip
    lines = summary_table(rows).splitlines()
    starts = {line.index("j" + "1" * 36) for line in lines[1:]}
    assert len(starts) == 1 and lines[0].index("best pick") in starts
