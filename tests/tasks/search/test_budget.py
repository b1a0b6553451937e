"""Budgets as users write them, and the messages for the ones that cannot work."""

from pathlib import Path

import pytest

from schemas.costs import cheapest_arch, count_macs, count_params, macs_cost, params_cost
from tasks.latency.table import read_latency_table
from tasks.search.budget import BudgetError, format_cost, parse_budget, require_reachable
from tasks.search.front import quantise_additive_cost
from tasks.search.sampling import check_budget


@pytest.mark.parametrize(
    "spec, metric, limit",
    [
        ("params=60M", "params", 60e6),
        ("params=60m", "params", 60e6),
        ("params=1.5e1M", "params", 15e6),
        ("params=500K", "params", 500e3),
        ("macs=15G", "macs", 15e9),
        ("macs=0.02T", "macs", 20e9),
        ("latency=12ms", "latency", 12.0),
        ("latency=12000us", "latency", 12.0),
        ("latency=0.5s", "latency", 500.0),
        (" params = 60M ", "params", 60e6),
    ],
)
def test_budgets_parse_to_the_cost_unit(spec, metric, limit):
    budget = parse_budget(spec)
    assert (budget.metric, budget.limit) == (metric, pytest.approx(limit))


@pytest.mark.parametrize(
    "spec, message",
    [
        ("params=abc", "'abc' is not a number followed by a unit"),
        ("params=60", "give a unit after the number (K/M/G for params)"),
        ("params=-5M", "must be positive"),
        ("params=0M", "positive finite"),
        ("params=1e400M", "positive finite"),
        ("params=60Q", "unit 'Q' is not one of K/M/G"),
        ("latency=12MS", "unit 'MS' is not one of us/ms/s"),
        ("flops=1G", "unknown metric 'flops'"),
        ("60M", "not METRIC=VALUEUNIT"),
        ("", "a budget is required"),
    ],
)
def test_malformed_budgets_say_what_is_wrong(spec, message):
    with pytest.raises(BudgetError) as raised:
        parse_budget(spec)
    assert message in str(raised.value)


@pytest.mark.parametrize("cost, exact", [(params_cost, count_params), (macs_cost, count_macs)])
def test_the_cheapest_arch_is_the_smallest_of_the_space(cost, exact):
    arch, value = cheapest_arch(cost())
    assert arch == "j" + "331" * 10 + "000" * 2
    assert value == exact(arch)


def test_a_budget_below_the_smallest_subnetwork_names_its_cost():
    with pytest.raises(BudgetError, match=r"below the smallest sub-network: j331.* costs 55\.93M"):
        require_reachable(parse_budget("params=50M"), params_cost())
    require_reachable(parse_budget("params=56M"), params_cost())  # reachable: no error


EXAMPLE_TABLE = Path(__file__).resolve().parents[3] / "data" / "examples" / "latency_table_cpu.json"


@pytest.mark.parametrize("spec", ["latency=0.2623752s", "latency=262.3752ms", "latency=262375.2us"])
def test_a_budget_equal_to_the_smallest_subnetwork_is_met_in_any_unit(spec):
    table = read_latency_table(EXAMPLE_TABLE)
    arch, _ = cheapest_arch(table)
    budget = parse_budget(spec)
    assert budget.limit == parse_budget("latency=262.3752ms").limit  # one float, any unit
    require_reachable(budget, table)
    # The search's own guard, in its quantised cost, agrees.
    check_budget(quantise_additive_cost(table), budget.limit)
    assert format_cost(table.of_archs([arch])[0], "latency") == "262.38 ms"


def test_a_latency_budget_just_below_the_smallest_subnetwork_is_refused():
    with pytest.raises(BudgetError, match=r"below the smallest sub-network: j231.* 262\.38 ms"):
        require_reachable(parse_budget("latency=262.3751ms"), read_latency_table(EXAMPLE_TABLE))
