"""The search report: what each record holds, the five files, and a failed write that
leaves the previous report whole."""

import csv
import json

import numpy as np
import pytest

from schemas.costs import AdditiveCost, count_macs, count_params, params_cost
from schemas.objectives import describe_objective
from schemas.supernet import supernet_config
from tasks.safety import ledger, reports
from tasks.search import report
from tasks.search.report import (
    REPORT_FILES,
    ScoredArchs,
    arch_records,
    goodness_label,
    write_report,
)
from tests.factories import ARCH_J, ARCH_K, ARCH_L

ARCHS = [ARCH_L, ARCH_K, ARCH_J]
TABLE = AdditiveCost("latency", "ms", 2.0, tuple(float(k + 1) for k in range(9)), "test table")


def _scored(archs=ARCHS):
    n = len(archs)
    return ScoredArchs(
        list(archs),
        np.linspace(1.0, 0.0, n),
        {"cplfw": np.arange(n, dtype=float), "sop": -np.arange(n, dtype=float)},
    )


def test_records_carry_arch_costs_config_and_predictions():
    records = arch_records(_scored(), 256, TABLE)
    first = records[0]
    assert first["rank"] == 1 and first["arch"] == ARCH_L and first["depth"] == 12
    assert first["params"] == count_params(ARCH_L) and first["macs"] == count_macs(ARCH_L)
    assert first["latency_ms"] == pytest.approx(TABLE.of_archs([ARCH_L])[0])
    assert first["predicted"] == 1.0
    assert first["predicted_per_task"] == {"cplfw": 0.0, "sop": 0.0}
    assert len(first["layers"]) == first["depth"]
    assert first["layers"][0] == {"layer": 1, "heads": 11, "mlp_ratio": 3.0, "mlp_hidden": 2304}
    assert "latency_ms" not in arch_records(_scored(), 256, None)[0]
    assert [r["supernet_config"] for r in records] == [supernet_config(a) for a in ARCHS]


def test_records_name_the_objective_when_given_its_spec():
    spec = "cplfw:2,market1501:1"
    named = arch_records(_scored(), 256, None, objective=spec)
    assert {r["objective"] for r in named} == {describe_objective(spec)}
    assert "objective" not in arch_records(_scored(), 256, None)[0]


def test_the_goodness_axis_names_the_objective():
    assert describe_objective("person") in goodness_label("person")
    assert "higher is better" in goodness_label("person") and "higher is better" in goodness_label()


def _only_the_report(folder) -> bool:
    """The five names, the link to the current version, that version and the ledger."""
    version = reports.current_version(folder)
    expected = {*REPORT_FILES, reports.CURRENT, version, ledger.LEDGER_NAME}
    return version is not None and {p.name for p in folder.iterdir()} == expected


def _plot(tmp_path_unused=None):
    return dict(
        cost=params_cost(),
        front=_scored(),
        picks=_scored(ARCHS[:1]),
        labelled=_scored(),
        budget_limit=80e6,
        title="test",
    )


def test_the_report_has_five_files_that_agree(tmp_path):
    records = arch_records(_scored(), 256, None)
    written = write_report(tmp_path, records[:1], records, _plot())
    assert sorted(written) == sorted(REPORT_FILES)
    assert json.loads((tmp_path / "front.json").read_text()) == records
    rows = list(csv.DictReader((tmp_path / "front.csv").open()))
    assert [r["arch"] for r in rows] == ARCHS
    assert {"params", "macs", "predicted", "predicted_cplfw", "predicted_sop", "layers"} <= set(
        rows[0]
    )
    # the supernet config as one-line JSON a program reads back whole
    assert [json.loads(r["supernet_config"]) for r in rows] == [
        r["supernet_config"] for r in records
    ]
    assert (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert _only_the_report(tmp_path)  # no staging left


def test_the_plot_renders_with_the_objective_named(tmp_path, monkeypatch):
    labels = []
    monkeypatch.setattr(report, "goodness_label", lambda o: labels.append(o) or goodness_label(o))
    records = arch_records(_scored(), 256, None, objective="face,person")
    write_report(tmp_path, records[:1], records, {**_plot(), "objective": "face,person"})
    assert labels == ["face,person"]
    assert (tmp_path / "front.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_failed_write_leaves_the_previous_report_whole(tmp_path, monkeypatch):
    records = arch_records(_scored(), 256, None)
    write_report(tmp_path, records[:1], records, _plot())
    before = {name: (tmp_path / name).read_bytes() for name in REPORT_FILES}

    def broken_plot(path, **_):
        raise OSError("disk full")

    monkeypatch.setattr(report, "plot_front", broken_plot)
    with pytest.raises(OSError, match="disk full"):
        write_report(tmp_path, records[:2], records[:2], _plot())
    assert {name: (tmp_path / name).read_bytes() for name in REPORT_FILES} == before
    assert _only_the_report(tmp_path)
