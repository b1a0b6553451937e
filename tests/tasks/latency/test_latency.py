"""Latency tables: the file formats and their errors, the NNLS fit, the ONNX graphs, a real
onnxruntime measurement, and the two CLI commands."""

from __future__ import annotations

import io
import json
import math
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import numpy as np
import pytest
from scipy.special import erf

from flows.cli import main
from schemas.costs import N_KINDS, AdditiveCost, count_params, kind_counts, kind_label, kind_matrix
from schemas.search_space import encode_arch, sample_archs
from tasks import cancellation
from tasks.latency import measure
from tasks.latency.fit import fit_latency_table
from tasks.latency.table import (
    KIND_LABELS,
    MIN_MEASUREMENTS,
    LatencyFileError,
    latency_table_document,
    parse_latency_table,
    read_latency_table,
    read_measurements,
    write_latency_table,
    write_measurements,
)

# A made-up chip: every kind a different cost, the fixed part too, so a mix-up shows.
KNOWN_TABLE = AdditiveCost(
    "latency", "ms", 4.25, tuple(10.0 + 1.5 * k + 0.25 * k * k for k in range(N_KINDS))
)
SMALL_IMAGE = 32  # 5 tokens: graphs that build and run in milliseconds


def table_json(**changes) -> dict:
    document = latency_table_document(KNOWN_TABLE, device="test chip")
    document.update(changes)
    return document


def write_json(path, data) -> str:
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


def synthetic_measurements(n: int = 40, seed: int = 3) -> dict[str, float]:
    archs = sample_archs(n, np.random.default_rng(seed))
    return dict(zip(archs, KNOWN_TABLE.of_archs(archs).tolist(), strict=True))


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(argv)
    return code, out.getvalue(), err.getvalue()


# --- the table file ------------------------------------------------------------------------


def test_a_table_file_reads_as_the_additive_cost_in_layer_kind_order(tmp_path):
    layers = {label: float(i + 1) for i, label in enumerate(KIND_LABELS)}
    path = write_json(tmp_path / "t.json", {"unit": "ms", "fixed_ms": 0.5, "layers": layers})
    table = read_latency_table(path)
    assert (table.name, table.unit, table.fixed) == ("latency", "ms", 0.5)
    assert table.per_kind == tuple(layers[kind_label(k)] for k in range(N_KINDS))
    arch = encode_arch(10, [12] * 5 + [10] * 5, [4.0] * 5 + [3.0] * 5)
    # 5 layers of the first kind (1 ms) and 5 of the last (9 ms)
    assert table.of_archs([arch])[0] == pytest.approx(0.5 + 5 * 1 + 5 * 9)


def test_a_written_table_reads_back_with_its_figures_and_provenance(tmp_path):
    path = tmp_path / "sub" / "table.json"
    write_latency_table(path, KNOWN_TABLE, device="test chip", image_size=256, notes="made up")
    table = read_latency_table(path)
    assert (table.fixed, table.per_kind) == (KNOWN_TABLE.fixed, KNOWN_TABLE.per_kind)
    assert "test chip" in table.source and str(path) in table.source
    assert json.loads(path.read_text())["notes"] == "made up"


NAN = float("nan")


@pytest.mark.parametrize(
    "document, entry, field",
    [
        ([1, 2], "<top level>", "<top level>"),
        ({k: v for k, v in table_json().items() if k != "fixed_ms"}, "<top level>", "fixed_ms"),
        (table_json(fixed=1.0), "<top level>", "fixed"),
        (table_json(unit="s"), "<top level>", "unit"),
        (table_json(fixed_ms=-1.0), "<top level>", "fixed_ms"),
        (table_json(fixed_ms="2 ms"), "<top level>", "fixed_ms"),
        (table_json(layers=[1.0] * 9), "layers", "layers"),
        (table_json(layers={KIND_LABELS[0]: 1.0}), KIND_LABELS[1], "layers"),
        (
            table_json(layers={**table_json()["layers"], "heads13-mlp4.0": 1.0}),
            "heads13-mlp4.0",
            "layers",
        ),
        (
            table_json(layers={**table_json()["layers"], KIND_LABELS[4]: -0.1}),
            KIND_LABELS[4],
            "layers",
        ),
        (
            table_json(layers={**table_json()["layers"], KIND_LABELS[5]: NAN}),
            KIND_LABELS[5],
            "layers",
        ),
        (
            table_json(layers={**table_json()["layers"], KIND_LABELS[6]: "fast"}),
            KIND_LABELS[6],
            "layers",
        ),
        (
            table_json(layers={**table_json()["layers"], KIND_LABELS[7]: True}),
            KIND_LABELS[7],
            "layers",
        ),
    ],
    ids=[
        "not-an-object",
        "missing-fixed",
        "misspelt-field",
        "wrong-unit",
        "negative-fixed",
        "text-fixed",
        "layers-not-object",
        "missing-kind",
        "unknown-kind",
        "negative-kind",
        "nan-kind",
        "text-kind",
        "boolean-kind",
    ],
)
def test_a_malformed_table_is_refused_naming_file_entry_and_field(tmp_path, document, entry, field):
    path = write_json(tmp_path / "table.json", json.dumps(document))  # NaN written as NaN
    with pytest.raises(LatencyFileError) as raised:
        read_latency_table(path)
    message = str(raised.value)
    assert path in message and f"entry {entry!r}" in message and f"field {field!r}" in message
    assert "expected" in message


@pytest.mark.parametrize(
    "text, expected",
    [
        (None, "no such latency table file"),
        ("{not json", "not valid JSON"),
        ('{"unit": "ms", "unit": "ms"}', "entry 'unit' appears twice"),
        (
            '{"unit": "ms", "fixed_ms": 1, "layers": {"heads12-mlp4.0": 1, "heads12-mlp4.0": 2}}',
            "entry 'heads12-mlp4.0' appears twice",
        ),
    ],
    ids=["missing-file", "not-json", "duplicate-field", "duplicate-kind"],
)
def test_an_unreadable_table_file_is_refused_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "table.json"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    with pytest.raises(LatencyFileError, match=expected) as raised:
        read_latency_table(path)
    assert str(path) in str(raised.value)


def test_the_example_files_read_and_the_example_measurements_fit():
    examples = Path(__file__).resolve().parents[3] / "data" / "examples"
    table = read_latency_table(examples / "latency_table_cpu.json")
    assert table.fixed > 0 and all(ms > 0 for ms in table.per_kind)
    fit = fit_latency_table(read_measurements(examples / "latency_measurements.json"))
    assert fit.n_measurements >= 3 * MIN_MEASUREMENTS  # "a few dozen"


# --- the measurements file and the fit ---------------------------------------------------------


def test_nnls_recovers_a_known_table_exactly_from_noiseless_measurements():
    fit = fit_latency_table(synthetic_measurements())
    assert fit.table.fixed == pytest.approx(KNOWN_TABLE.fixed, abs=1e-9)
    assert fit.table.per_kind == pytest.approx(KNOWN_TABLE.per_kind, abs=1e-9)
    assert fit.n_measurements == 40
    assert fit.heldout_mean_abs_pct < 1e-9 and fit.heldout_max_abs_pct < 1e-9


def test_the_heldout_error_is_the_error_on_each_arch_left_out():
    measurements = synthetic_measurements(n=20)
    slow_arch = next(iter(measurements))
    measurements[slow_arch] *= 1.5  # one arch off the additive model
    fit = fit_latency_table(measurements)
    assert fit.heldout_worst_arch == slow_arch
    # Left out, the slow arch is predicted from 19 exact archs: exactly the table's value.
    assert fit.heldout_max_abs_pct == pytest.approx(100 * (1 - 1 / 1.5), rel=1e-6)
    assert fit.fit_mean_abs_pct < fit.heldout_mean_abs_pct


def test_a_kind_missing_from_every_measured_arch_is_named():
    archs = [a for a in sample_archs(200, np.random.default_rng(0)) if 8 not in kind_matrix([a])[0]]
    measurements = dict(zip(archs, KNOWN_TABLE.of_archs(archs).tolist(), strict=True))
    with pytest.raises(LatencyFileError, match=f"'{kind_label(8)}' occurs in no measured arch"):
        fit_latency_table(measurements, source="m.json")


def test_measurements_of_one_depth_cannot_separate_the_fixed_part():
    archs = [a for a in sample_archs(100, np.random.default_rng(0)) if a[0] == "l"]
    measurements = dict(zip(archs, KNOWN_TABLE.of_archs(archs).tolist(), strict=True))
    with pytest.raises(LatencyFileError, match="at least two depths"):
        fit_latency_table(measurements, source="m.json")


def test_measurements_round_trip_through_their_file(tmp_path):
    measurements = {a: round(ms, 4) for a, ms in synthetic_measurements().items()}
    write_measurements(tmp_path / "m.json", measurements)
    assert read_measurements(tmp_path / "m.json") == measurements


GOOD_ARCH = encode_arch(10, [12] * 10, [4.0] * 10)


@pytest.mark.parametrize(
    "change, entry, field",
    [
        ({"l12": 5.0}, "l12", "arch (the key)"),
        ({GOOD_ARCH.replace("j1", "m1"): 5.0}, GOOD_ARCH.replace("j1", "m1"), "arch (the key)"),
        ({GOOD_ARCH: -3.0}, GOOD_ARCH, "ms (the value)"),
        ({GOOD_ARCH: 0}, GOOD_ARCH, "ms (the value)"),
        ({GOOD_ARCH: NAN}, GOOD_ARCH, "ms (the value)"),
        ({GOOD_ARCH: "12ms"}, GOOD_ARCH, "ms (the value)"),
        ({GOOD_ARCH: [12.0]}, GOOD_ARCH, "ms (the value)"),
        ({GOOD_ARCH: 10**400}, GOOD_ARCH, "ms (the value)"),
    ],
    ids=["short-arch", "bad-depth-code", "negative", "zero", "nan", "text", "list", "huge"],
)
def test_a_malformed_measurement_is_refused_naming_file_arch_and_field(
    tmp_path, change, entry, field
):
    path = write_json(tmp_path / "m.json", json.dumps({**synthetic_measurements(), **change}))
    with pytest.raises(LatencyFileError) as raised:
        read_measurements(path)
    message = str(raised.value)
    assert path in message and f"entry {entry!r}" in message and f"field {field!r}" in message
    assert "expected" in message


def test_too_few_or_wrongly_shaped_measurements_are_refused(tmp_path):
    few = dict(list(synthetic_measurements().items())[: MIN_MEASUREMENTS - 1])
    with pytest.raises(LatencyFileError, match=f"expected at least {MIN_MEASUREMENTS}"):
        read_measurements(write_json(tmp_path / "few.json", few))
    as_list = [{"arch": a, "ms": ms} for a, ms in synthetic_measurements().items()]
    with pytest.raises(LatencyFileError, match="'<top level>'.*expected a JSON object"):
        read_measurements(write_json(tmp_path / "list.json", as_list))


# --- the ONNX graphs -------------------------------------------------------------------------


def _layer_norm(x: np.ndarray) -> np.ndarray:
    centred = x - x.mean(-1, keepdims=True)
    return centred / np.sqrt(centred.var(-1, keepdims=True) + 1e-6)  # scale 1, bias 0


def _reference_block(x: np.ndarray, weights: list, biases: list, heads: int) -> np.ndarray:
    """A ViT block in numpy, laid out as timm/UFO lay it out (qkv fused, heads of 64)."""
    tokens = x.shape[1]
    qkv = _layer_norm(x[0]) @ weights[0] + biases[0]
    q, k, v = qkv.reshape(tokens, 3, heads, 64).transpose(1, 2, 0, 3)
    scores = q @ k.transpose(0, 2, 1) / 8.0
    attention = np.exp(scores - scores.max(-1, keepdims=True))
    attention /= attention.sum(-1, keepdims=True)
    context = (attention @ v).transpose(1, 0, 2).reshape(tokens, heads * 64)
    x1 = x[0] + context @ weights[1] + biases[1]
    hidden = _layer_norm(x1) @ weights[2] + biases[2]
    gelu = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
    return (x1 + gelu @ weights[3] + biases[3])[None]


@pytest.mark.parametrize("kind", [0, 4, 8])
def test_the_block_graph_computes_a_vit_block(kind):
    from onnx import numpy_helper

    from schemas.costs import LAYER_KINDS
    from schemas.search_space import HEADS_BY_CODE
    from tasks.latency.graphs import block_model, model_input
    from tasks.latency.measure import _session

    rng = np.random.default_rng(kind)
    model = block_model(kind, SMALL_IMAGE, rng)
    arrays = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights = [a for n, a in arrays.items() if n.startswith("w_")]
    biases = [a for n, a in arrays.items() if n.startswith("b_")]
    feed = model_input(model, rng)
    (got,) = _session(model).run(None, feed)
    expected = _reference_block(
        next(iter(feed.values())).astype(np.float64),
        weights,
        biases,
        HEADS_BY_CODE[LAYER_KINDS[kind][0]],
    )
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_a_whole_network_graph_holds_exactly_the_cost_models_parameters():
    from onnx import TensorProto

    from tasks.latency.graphs import network_model

    arch = encode_arch(10, [12, 11, 10] * 3 + [12], [4.0, 3.5, 3.0] * 3 + [3.0])
    kinds = [int(k) for k in kind_matrix([arch])[0] if k >= 0]
    model = network_model(kinds, SMALL_IMAGE, np.random.default_rng(0))
    # Every float tensor of rank >= 1 is a weight or bias; the int64 shapes and the float
    # scalars (attention scale, GELU constants) are not parameters.
    n_weights = sum(
        math.prod(t.dims)
        for t in model.graph.initializer
        if t.data_type == TensorProto.FLOAT and t.dims
    )
    assert n_weights == count_params(arch, SMALL_IMAGE)
    assert kind_counts([arch]).sum() == len(kinds) == 10


# --- a real measurement and the CLI ----------------------------------------------------------


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """One real `ufo measure-latency` on this machine: small image, few repeats, two whole
    networks (the largest and the smallest), so the run stays short."""
    folder = tmp_path_factory.mktemp("measure")
    argv = ["measure-latency", "--out", str(folder / "table.json"), "--image-size", "128"]
    argv += ["--repeats", "3", "--check-archs", "2", "--measurements-out", str(folder / "m.json")]
    code, out, err = run_cli(argv)
    return folder, code, out, err


def test_measure_latency_writes_a_table_of_nine_positive_kinds(measured):
    folder, code, out, err = measured
    assert code == 0, err
    table = read_latency_table(folder / "table.json")
    assert all(ms > 0 for ms in table.per_kind) and table.fixed > 0
    # The full-size kind does 1.28x the arithmetic of the smallest; allow for noise.
    assert table.per_kind[0] >= 0.9 * table.per_kind[-1]
    for label in KIND_LABELS:
        assert label in out


def test_measure_latency_checks_whole_networks_against_the_table(measured):
    folder, code, out, _ = measured
    document = json.loads((folder / "table.json").read_text())
    largest, smallest = document["check"]
    assert largest["arch"] == encode_arch(12, [12] * 12, [4.0] * 12)
    assert largest["measured_ms"] > smallest["measured_ms"]  # 1.5x the arithmetic
    table = parse_latency_table(document)
    for check in document["check"]:
        # What the check reports is consistent: the table's sum for the arch, and the error
        # against the measurement. How close they are depends on the machine's load, so it
        # is reported (data/examples has a quiet run), not asserted.
        assert check["predicted_ms"] == pytest.approx(table.of_archs([check["arch"]])[0], abs=1e-3)
        expected = 100 * (check["predicted_ms"] - check["measured_ms"]) / check["measured_ms"]
        assert check["error_pct"] == pytest.approx(expected, abs=0.01)
        assert check["arch"] in out
    assert "onnxruntime" in document["notes"] and document["threads"] == 1
    assert set(json.loads((folder / "m.json").read_text())) == {largest["arch"], smallest["arch"]}


@pytest.mark.parametrize(
    "extra, expected",
    [(["--image-size", "100"], "--image-size"), (["--repeats", "0"], "--repeats")],
)
def test_measure_latency_refuses_bad_settings_and_writes_nothing(tmp_path, extra, expected):
    code, _, err = run_cli(["measure-latency", "--out", str(tmp_path / "t.json"), *extra])
    assert code == 2 and expected in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_fit_latency_writes_the_fitted_table_and_prints_the_heldout_error(tmp_path):
    measurements = write_json(tmp_path / "m.json", synthetic_measurements())
    code, out, err = run_cli(
        ["fit-latency", "--measurements", measurements, "--out", str(tmp_path / "t.json")]
    )
    assert code == 0, err
    assert "leave-one-out error over 40 archs: mean 0.00 %" in out
    table = read_latency_table(tmp_path / "t.json")
    assert table.per_kind == pytest.approx(KNOWN_TABLE.per_kind, abs=1e-4)  # 4 decimals in the file


def test_fit_latency_on_a_bad_file_exits_2_and_leaves_the_old_table(tmp_path):
    bad = synthetic_measurements()
    bad[GOOD_ARCH] = -1.0
    measurements = write_json(tmp_path / "m.json", bad)
    out_path = tmp_path / "t.json"
    out_path.write_text("old table", encoding="utf-8")
    code, _, err = run_cli(
        ["fit-latency", "--measurements", measurements, "--out", str(out_path), "--force"]
    )
    assert code == 2 and "Traceback" not in err
    assert measurements in err and GOOD_ARCH in err and "ms (the value)" in err
    assert out_path.read_text(encoding="utf-8") == "old table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.json", "t.json"]


# --- Ctrl-C ------------------------------------------------------------------------------


def test_a_stop_requested_mid_round_ends_the_timing_after_that_round(stop_request):
    calls = []
    runs = [lambda: calls.append("a"), lambda: calls.append("b"), stop_request]
    with pytest.raises(cancellation.Cancelled):
        measure._timed_samples(runs, repeats=50, warmup=0, clock="wall")
    assert calls == ["a", "b"]  # one round of the 50


def test_a_stop_requested_while_measuring_writes_neither_output(
    tmp_path, monkeypatch, stop_request
):
    """The command ends with 130 (flows/cli.py) and the previous table stays."""
    ticks, clock = [], measure.CLOCKS["cpu"]
    per_round = 2 * (N_KINDS + 1)  # two clock readings per graph: the kinds, the fixed part

    def clock_that_stops():  # in the middle of the second round
        ticks.append(1)
        if len(ticks) == per_round + per_round // 2:
            stop_request()
        return clock()

    monkeypatch.setitem(measure.CLOCKS, "cpu", clock_that_stops)
    table, measurements = tmp_path / "t.json", tmp_path / "m.json"
    table.write_text("old table", encoding="utf-8")
    argv = ["measure-latency", "--out", str(table), "--measurements-out", str(measurements)]
    argv += ["--image-size", str(SMALL_IMAGE), "--repeats", "200", "--check-archs", "0", "--force"]
    code, _, err = run_cli(argv)
    assert code == 130 and "Traceback" not in err, err
    assert len(ticks) == 2 * per_round  # the round under way finished, no other began
    assert table.read_text(encoding="utf-8") == "old table"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.json"]
