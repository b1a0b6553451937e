"""Input limits checked when a latency file is read or a measurement asked for, before any
fit: values the exact search cannot sum, image sizes whose graphs cannot fit in memory;
and the warnings for fits that are legal but say little."""

from __future__ import annotations

import json

import numpy as np
import pytest

from schemas.costs import MAX_IMAGE_SIZE, N_KINDS, AdditiveCost
from schemas.search_space import sample_archs
from tasks.errors import OutputError, ParameterError
from tasks.latency import measure
from tasks.latency.fit import check_fit_latency_output, fit_latency_table
from tasks.latency.measure import LatencyMeasurement, NetworkCheck, check_measure_parameters
from tasks.latency.table import (
    KIND_LABELS,
    LatencyFileError,
    latency_table_document,
    read_latency_table,
    read_latency_table_and_size,
    read_measurements,
)
from tasks.safety.limits import MAX_COST_TERM, MIN_LARGEST_COST_TERM
from tasks.search.front import quantise_additive_cost

TABLE = AdditiveCost("latency", "ms", 4.0, tuple(10.0 + k for k in range(N_KINDS)))


def _write(path, document) -> str:
    path.write_text(json.dumps(document), encoding="utf-8")
    return str(path)


def _table(**layers) -> dict:
    document = latency_table_document(TABLE)
    document["layers"].update(layers)
    return document


@pytest.mark.parametrize("value", [3e16, 1e300, MAX_COST_TERM + 1])
@pytest.mark.parametrize("field", ["layers", "fixed_ms"])
def test_a_term_the_search_cannot_sum_exactly_is_refused_naming_the_limit(tmp_path, value, field):
    document = _table(**{KIND_LABELS[3]: value}) if field == "layers" else _table()
    if field == "fixed_ms":
        document["fixed_ms"] = value
    path = _write(tmp_path / "t.json", document)
    with pytest.raises(LatencyFileError) as raised:
        read_latency_table(path)
    entry = KIND_LABELS[3] if field == "layers" else "<top level>"
    message = str(raised.value)
    assert path in message and f"entry {entry!r}, field {field!r}" in message
    assert f"at most {MAX_COST_TERM} ms, the largest value accepted" in message


def test_a_table_at_the_limit_is_summed_exactly_by_the_search(tmp_path):
    # Every term at the limit, whole numbers: the search's integer sums at resolution 1.
    labels = {label: MAX_COST_TERM for label in KIND_LABELS}
    document = {**_table(**labels), "fixed_ms": MAX_COST_TERM}
    table = read_latency_table(_write(tmp_path / "t.json", document))
    largest = "l" + "111" * 12
    quantised = quantise_additive_cost(table)
    assert int(quantised.of_archs([largest])[0]) == 13 * MAX_COST_TERM  # exact, not rounded


def test_a_table_whose_largest_term_is_too_small_to_resolve_is_refused(tmp_path):
    tiny = dict.fromkeys(KIND_LABELS, MIN_LARGEST_COST_TERM / 10)
    path = _write(tmp_path / "t.json", _table(**tiny))
    with pytest.raises(LatencyFileError, match=f"0 or at least {MIN_LARGEST_COST_TERM:g} ms"):
        read_latency_table(path)
    # At the smallest accepted, the search's resolution still resolves every term.
    table = read_latency_table(
        _write(tmp_path / "ok.json", _table(**dict.fromkeys(KIND_LABELS, MIN_LARGEST_COST_TERM)))
    )
    assert np.all(quantise_additive_cost(table).units > 0)


def test_a_folder_given_as_a_table_is_named_a_folder(tmp_path):
    with pytest.raises(LatencyFileError, match="is a folder; expected a latency table file"):
        read_latency_table(tmp_path)


@pytest.mark.parametrize("size", ["256px", 250, True, 100_000])
def test_the_image_size_a_table_records_must_be_one(tmp_path, size):
    path = _write(tmp_path / "t.json", {**_table(), "image_size": size})
    with pytest.raises(LatencyFileError, match="field 'image_size': expected an image size"):
        read_latency_table(path)


def test_the_image_size_a_table_records_is_read_with_it(tmp_path):
    path = _write(tmp_path / "t.json", {**_table(), "image_size": 224})
    assert read_latency_table_and_size(path) == (read_latency_table(path), 224)
    assert read_latency_table_and_size(_write(tmp_path / "n.json", _table()))[1] is None


def _measurements(n=40, seed=3) -> dict[str, float]:
    archs = sample_archs(n, np.random.default_rng(seed))
    return dict(zip(archs, TABLE.of_archs(archs).tolist(), strict=True))


def test_a_measurement_above_the_limit_is_refused_before_the_fit(tmp_path):
    measurements = _measurements()
    arch = next(iter(measurements))
    path = _write(tmp_path / "m.json", {**measurements, arch: 1e308})
    with pytest.raises(LatencyFileError) as raised:
        read_measurements(path)
    message = str(raised.value)
    assert f"entry {arch!r}, field 'ms (the value)'" in message and str(MAX_COST_TERM) in message
    # All of them 1e308 (an internal error in the fit before): the same, at the first.
    with pytest.raises(LatencyFileError, match="the largest value accepted"):
        read_measurements(_write(tmp_path / "all.json", dict.fromkeys(measurements, 1e308)))


def test_identical_measurements_fit_with_a_warning():
    measurements = dict.fromkeys(_measurements(36), 250.0)
    fit = fit_latency_table(measurements, source="m.json")
    assert fit.table.per_kind == pytest.approx((0.0,) * N_KINDS, abs=1e-9)
    assert fit.heldout_max_abs_pct < 1e-9  # "0.00 %": a perfect fit of nothing
    (warning,) = fit.warnings
    assert warning.startswith("m.json: all 36 measurements are 250 ms") and "0 ms" in warning
    assert fit_latency_table(_measurements()).warnings == ()


def test_an_image_size_without_bound_is_refused_before_any_graph(monkeypatch):
    def no_graphs(*_):
        raise AssertionError("a graph was built")

    monkeypatch.setattr("tasks.latency.graphs.block_model", no_graphs)
    with pytest.raises(ParameterError, match=f"--image-size: .*at most {MAX_IMAGE_SIZE}"):
        measure.measure_latency_table(image_size=100_000)


def test_an_image_size_whose_graphs_do_not_fit_in_memory_is_refused(monkeypatch):
    monkeypatch.setattr(measure, "available_memory_bytes", lambda: 10**9)
    with pytest.raises(ParameterError) as raised:
        check_measure_parameters(1024, repeats=3, check_archs=2)
    message = str(raised.value)
    needed = measure.size_dependent_bytes(1024)
    assert f"--image-size 1024: measuring needs about {needed / 1e9:.1f} GB" in message
    assert "1.0 GB is available" in message
    check_measure_parameters(256, repeats=3, check_archs=2)  # 32 MB
    monkeypatch.setattr(measure, "available_memory_bytes", lambda: None)  # unknown: not refused
    check_measure_parameters(1024, repeats=3, check_archs=2)


def test_the_memory_estimate_grows_with_the_square_of_the_tokens():
    small, large = measure.size_dependent_bytes(1024), measure.size_dependent_bytes(2048)
    assert 13 < large / small < 16  # 16385/4097 tokens, squared: 16x once attention dominates


def test_bad_counts_and_clocks_are_named_together():
    with pytest.raises(ParameterError) as raised:
        check_measure_parameters(256, repeats=0, check_archs=-1, clock="sundial")
    for part in ("--repeats must be >= 1", "--check-archs must be >= 0", "--clock must be one"):
        assert part in str(raised.value)


def test_a_measured_table_and_its_measurements_are_written_together_or_not_at_all(tmp_path):
    arch = next(iter(_measurements()))
    measured = LatencyMeasurement(TABLE, (NetworkCheck(arch, 100.0, 99.0),), 256, 3, "cpu", "x")
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    table, measurements = tmp_path / "t.json", tmp_path / "m.json"
    for out, measurements_out in ((blocked / "t.json", measurements), (table, blocked / "m")):
        with pytest.raises(OutputError, match="nothing was replaced"):
            measure.write_measured_latency(measured, out, measurements_out, replace_any=False)
        assert not table.exists() and not measurements.exists()
    measure.write_measured_latency(measured, table, measurements, replace_any=False)
    assert read_latency_table(table).per_kind == TABLE.per_kind
    assert json.loads(measurements.read_text()) == {arch: 100.0}


def test_fit_latency_never_writes_over_its_own_measurements(tmp_path):
    measurements = tmp_path / "m.json"
    measurements.write_text("{}")
    with pytest.raises(ParameterError, match="--out .* is the --measurements file"):
        check_fit_latency_output(measurements, tmp_path / "." / "m.json", replace_any=True)
    check_fit_latency_output(measurements, tmp_path / "t.json", replace_any=False)


def test_measure_latency_names_every_problem_before_measuring(tmp_path):
    out = tmp_path / "t.json"
    with pytest.raises(ParameterError) as raised:
        measure.check_measure_latency(256, 0, 2, "cpu", out, out, replace_any=True)
    message = str(raised.value)
    assert "--repeats must be >= 1" in message
    assert "--out and --measurements-out are one file" in message
    measure.check_measure_latency(256, 3, 2, "cpu", out, tmp_path / "m.json", replace_any=False)
