"""Latency of sub-networks on a chip, as an additive cost: a fixed part (patch embedding,
class and position embeddings, final norm) plus one term per layer by its kind.

Three ways to get that table:
- read it from a lookup-table file (someone measured the 9 layer kinds on their chip);
- fit it by non-negative least squares to measured latencies of a few dozen whole
  sub-networks, and report the held-out (leave-one-out) error;
- measure it here: each layer kind and the fixed part as an ONNX graph with random
  weights, timed with onnxruntime on this machine's CPU, then checked against a few
  whole sub-networks timed the same way.

File formats (data/examples/README.md shows both with examples):

    latency table   {"unit": "ms", "fixed_ms": 7.7,
                     "layers": {"heads12-mlp4.0": 52.1, ... all 9 kinds ...},
                     "device": "...", "notes": "...", ...optional metadata}
    measurements    {"<37-character arch>": <ms>, ...}

Any problem with a file raises LatencyFileError, whose message names the file, the entry
(layer kind or arch) and the field, and says what was expected."""

from __future__ import annotations

import datetime
import json
import logging
import math
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from schemas.costs import (
    DEFAULT_IMAGE_SIZE,
    N_KINDS,
    AdditiveCost,
    kind_counts,
    kind_label,
    kind_matrix,
)
from schemas.search_space import encode_arch, explain_arch_error, sample_archs
from tasks.io import InputFileError, write_bytes_atomic

logger = logging.getLogger(__name__)

UNIT = "ms"
KIND_LABELS: tuple[str, ...] = tuple(kind_label(k) for k in range(N_KINDS))
REQUIRED_TABLE_FIELDS = ("unit", "fixed_ms", "layers")
# Free-form provenance a table may carry; anything else is refused, so that a misspelt
# field ("layer", "fixed") is reported instead of silently ignored.
OPTIONAL_TABLE_FIELDS = (
    "device",
    "notes",
    "image_size",
    "threads",
    "repeats",
    "clock",
    "measured",
    "check",
)
# The fit has 10 unknowns (fixed part + 9 kinds); leave-one-out needs each fit on n-1 archs
# to still have more rows than unknowns, or the held-out error says nothing.
MIN_MEASUREMENTS = N_KINDS + 3
THREADS = 1  # one intra-op thread: stable timings on a small shared machine


class LatencyFileError(InputFileError):
    """A latency table or measurements file that cannot be used as one. A kind of
    InputFileError (a ValueError), so the CLI already reports it as a user error (exit 2)."""


def _problem(source: object, entry: str, field: str, expected: str, got: object) -> str:
    return f"{source}: entry {entry!r}, field {field!r}: expected {expected}, got {got!r}"


def _load_json(path: Path, what: str) -> object:
    """Strict JSON: the file exists, is UTF-8, parses, and repeats no key at any level.
    NaN and Infinity are let through here so the per-entry checks can name them."""
    path = Path(path)
    if not path.is_file():
        raise LatencyFileError(f"{path}: no such {what} file")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LatencyFileError(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})"
        ) from None

    def refuse_duplicates(pairs: list[tuple[str, object]]) -> dict:
        seen: dict = {}
        for key, value in pairs:
            if key in seen:
                raise LatencyFileError(f"{path}: entry {key!r} appears twice; expected unique keys")
            seen[key] = value
        return seen

    try:
        return json.loads(text, object_pairs_hook=refuse_duplicates)
    except json.JSONDecodeError as exc:
        raise LatencyFileError(
            f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); expected a {what} "
            "as a JSON object"
        ) from None


def _is_finite_number(value: object) -> bool:
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer too large for a float, e.g. 1e400 written out
        return False


def _milliseconds(
    value: object, source: object, entry: str, field: str, *, allow_zero: bool
) -> float:
    ok = _is_finite_number(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        bound = ">= 0" if allow_zero else "> 0"
        raise LatencyFileError(
            _problem(source, entry, field, f"a finite number of ms {bound}", value)
        )
    return float(value)


# --- lookup table -------------------------------------------------------------------------


def parse_latency_table(data: object, source: object = "<table>") -> AdditiveCost:
    """A latency table from its parsed JSON; see the module docstring for the format."""
    if not isinstance(data, dict):
        raise LatencyFileError(
            _problem(source, "<top level>", "<top level>", "a JSON object", type(data).__name__)
        )
    for field in REQUIRED_TABLE_FIELDS:
        if field not in data:
            raise LatencyFileError(
                _problem(source, "<top level>", field, f"the required field {field!r}", "nothing")
            )
    unknown = [f for f in data if f not in REQUIRED_TABLE_FIELDS + OPTIONAL_TABLE_FIELDS]
    if unknown:
        allowed = ", ".join(REQUIRED_TABLE_FIELDS + OPTIONAL_TABLE_FIELDS)
        raise LatencyFileError(
            _problem(
                source, "<top level>", unknown[0], f"only the fields {allowed}", "an unknown field"
            )
        )
    if data["unit"] != UNIT:
        raise LatencyFileError(_problem(source, "<top level>", "unit", repr(UNIT), data["unit"]))
    fixed = _milliseconds(data["fixed_ms"], source, "<top level>", "fixed_ms", allow_zero=True)
    layers = data["layers"]
    if not isinstance(layers, dict):
        raise LatencyFileError(
            _problem(
                source, "layers", "layers", "an object of layer kind -> ms", type(layers).__name__
            )
        )
    for label in layers:
        if label not in KIND_LABELS:
            raise LatencyFileError(
                _problem(
                    source,
                    label,
                    "layers",
                    f"one of the layer kinds {', '.join(KIND_LABELS)}",
                    label,
                )
            )
    per_kind = []
    for label in KIND_LABELS:
        if label not in layers:
            raise LatencyFileError(
                _problem(
                    source,
                    label,
                    "layers",
                    "a latency for every one of the 9 layer kinds",
                    "nothing",
                )
            )
        per_kind.append(_milliseconds(layers[label], source, label, "layers", allow_zero=True))
    description = ", ".join(str(data[f]) for f in ("device", "image_size") if f in data)
    return AdditiveCost(
        "latency",
        UNIT,
        fixed,
        tuple(per_kind),
        f"{source}" + (f" ({description})" if description else ""),
    )


def read_latency_table(path: Path) -> AdditiveCost:
    """Read a latency lookup-table file; LatencyFileError names whatever is wrong."""
    return parse_latency_table(_load_json(Path(path), "latency table"), source=Path(path))


def latency_table_document(cost: AdditiveCost, **metadata: object) -> dict:
    """The JSON object of a table file; metadata are the optional provenance fields."""
    unknown = [f for f in metadata if f not in OPTIONAL_TABLE_FIELDS]
    if unknown:
        raise ValueError(f"unknown latency table fields {unknown}; allowed {OPTIONAL_TABLE_FIELDS}")
    document: dict[str, object] = {
        "unit": UNIT,
        "fixed_ms": round(cost.fixed, 4),
        "layers": {
            label: round(ms, 4) for label, ms in zip(KIND_LABELS, cost.per_kind, strict=True)
        },
    }
    document.update(metadata)
    return document


def write_latency_table(path: Path, cost: AdditiveCost, **metadata: object) -> None:
    """Write a table file atomically (the old file, if any, stays until the new one is whole)."""
    payload = json.dumps(latency_table_document(cost, **metadata), indent=2) + "\n"
    write_bytes_atomic(Path(path), payload.encode("utf-8"))


# --- measurements and the NNLS fit -----------------------------------------------------------


def parse_measurements(data: object, source: object = "<measurements>") -> dict[str, float]:
    """Measured latencies, arch -> ms, from their parsed JSON."""
    if not isinstance(data, dict):
        raise LatencyFileError(
            _problem(
                source,
                "<top level>",
                "<top level>",
                'a JSON object {"<arch>": ms, ...}',
                type(data).__name__,
            )
        )
    measurements = {}
    for arch, value in data.items():
        problem = explain_arch_error(arch)
        if problem is not None:
            raise LatencyFileError(
                _problem(
                    source, arch, "arch (the key)", f"a 37-character arch code ({problem})", arch
                )
            )
        measurements[arch] = _milliseconds(value, source, arch, "ms (the value)", allow_zero=False)
    if len(measurements) < MIN_MEASUREMENTS:
        raise LatencyFileError(
            f"{source}: {len(measurements)} measured archs; expected at least {MIN_MEASUREMENTS} "
            f"(the fit has {N_KINDS + 1} unknowns and is checked leave-one-out)"
        )
    return measurements


def read_measurements(path: Path) -> dict[str, float]:
    return parse_measurements(_load_json(Path(path), "latency measurements"), source=Path(path))


def write_measurements(path: Path, measurements: dict[str, float]) -> None:
    payload = json.dumps({a: round(ms, 4) for a, ms in measurements.items()}, indent=2) + "\n"
    write_bytes_atomic(Path(path), payload.encode("utf-8"))


@dataclass(frozen=True)
class LatencyFit:
    """A table fitted to measured whole sub-networks, and how well it predicts unseen ones."""

    table: AdditiveCost
    n_measurements: int
    heldout_mean_abs_pct: float  # leave-one-out: each arch predicted by a fit without it
    heldout_max_abs_pct: float
    heldout_worst_arch: str
    fit_mean_abs_pct: float  # in-sample, for comparison


def _design_matrix(archs: Sequence[str]) -> np.ndarray:
    counts = kind_counts(archs).astype(np.float64)
    return np.hstack([np.ones((len(archs), 1)), counts])


def _check_identifiable(archs: Sequence[str], design: np.ndarray, source: object) -> None:
    """Say which measurements are missing when the table is not determined by them."""
    kinds_present = set(np.unique(kind_matrix(archs)).tolist())
    for kind in range(N_KINDS):
        if kind not in kinds_present:
            raise LatencyFileError(
                f"{source}: layer kind {kind_label(kind)!r} occurs in no measured arch; expected "
                "every kind in at least one arch so its latency can be fitted"
            )
    if len({a[0] for a in archs}) < 2:
        raise LatencyFileError(
            f"{source}: every measured arch has depth code {archs[0][0]!r}; expected at least two "
            "depths, or the fixed part cannot be told apart from the layers"
        )
    rank = np.linalg.matrix_rank(design)
    if rank < design.shape[1]:
        raise LatencyFileError(
            f"{source}: the measured archs' layer-kind counts have rank {rank}; expected "
            f"{design.shape[1]} (vary the kinds more between archs)"
        )


def fit_latency_table(
    measurements: dict[str, float], source: object = "<measurements>"
) -> LatencyFit:
    """Fit fixed + per-kind latencies >= 0 by non-negative least squares on the kind counts."""
    archs = list(measurements)
    if len(archs) < MIN_MEASUREMENTS:
        raise LatencyFileError(
            f"{source}: {len(archs)} measured archs; expected at least {MIN_MEASUREMENTS}"
        )
    design = _design_matrix(archs)
    target = np.array([measurements[a] for a in archs], dtype=np.float64)
    _check_identifiable(archs, design, source)

    coefficients, _ = nnls(design, target)
    heldout = np.empty(len(archs))
    for i in range(len(archs)):
        keep = np.arange(len(archs)) != i
        loo_coefficients, _ = nnls(design[keep], target[keep])
        heldout[i] = design[i] @ loo_coefficients
    heldout_pct = 100 * np.abs(heldout - target) / target
    fit_pct = 100 * np.abs(design @ coefficients - target) / target
    table = AdditiveCost(
        "latency",
        UNIT,
        float(coefficients[0]),
        tuple(float(c) for c in coefficients[1:]),
        f"NNLS fit to {len(archs)} measured archs in {source}",
    )
    return LatencyFit(
        table=table,
        n_measurements=len(archs),
        heldout_mean_abs_pct=float(heldout_pct.mean()),
        heldout_max_abs_pct=float(heldout_pct.max()),
        heldout_worst_arch=archs[int(heldout_pct.argmax())],
        fit_mean_abs_pct=float(fit_pct.mean()),
    )


# --- measuring on this machine -------------------------------------------------------------


@dataclass(frozen=True)
class NetworkCheck:
    """One whole sub-network timed as one graph, against the table's sum for it."""

    arch: str
    measured_ms: float
    predicted_ms: float

    @property
    def error_pct(self) -> float:
        return 100 * (self.predicted_ms - self.measured_ms) / self.measured_ms


@dataclass(frozen=True)
class LatencyMeasurement:
    """A table measured on this machine, with the whole-network check and how it was timed."""

    table: AdditiveCost
    checks: tuple[NetworkCheck, ...]
    image_size: int
    repeats: int
    clock: str
    device: str

    @property
    def check_mean_abs_pct(self) -> float:
        return float(np.mean([abs(c.error_pct) for c in self.checks])) if self.checks else math.nan

    def document_metadata(self) -> dict[str, object]:
        """The provenance fields written into the table file."""
        today = datetime.date.today().isoformat()
        clock = "CPU time of the computing thread" if self.clock == "cpu" else "wall-clock time"
        return {
            "device": self.device,
            "image_size": self.image_size,
            "threads": THREADS,
            "repeats": self.repeats,
            "clock": self.clock,
            "measured": today,
            "notes": (
                f"Measured on {today} by `ufo measure-latency`: each layer kind and the fixed part "
                "(patch embedding, class/position embeddings, final norm) as an ONNX graph with "
                f"random weights, batch 1, {self.image_size}px; onnxruntime CPU execution provider, "
                f"{THREADS} intra-op thread; {clock}, median of {self.repeats} runs after warm-up. "
                "'check': whole sub-networks timed as one graph each, against this table's sum."
            ),
            "check": [
                {
                    "arch": c.arch,
                    "measured_ms": round(c.measured_ms, 3),
                    "predicted_ms": round(c.predicted_ms, 3),
                    "error_pct": round(c.error_pct, 2),
                }
                for c in self.checks
            ],
        }


def describe_device() -> str:
    import onnxruntime

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            names = [
                line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")
            ]
        cpu = names[0] if names else cpu
    except OSError:
        pass  # not Linux: platform's answer will do
    return f"{cpu}; onnxruntime {onnxruntime.__version__} CPUExecutionProvider, {THREADS} thread"


def _session(model):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = THREADS
    options.inter_op_num_threads = THREADS
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers would drown the report
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


# What a timed run is measured with. "cpu" is the CPU time of the calling thread: with one
# intra-op thread onnxruntime computes on the caller's thread (its process CPU time equals
# the thread's, checked), so this is the run's latency on an unshared core, without the
# time spent waiting while other processes hold the CPU. On this shared 2-core machine
# under a load of 6 the wall-clock time of a block varied 38-51 ms run to run while its
# CPU time stayed within 27-28 ms; on an idle machine the two agree within ~3%.
CLOCKS: dict[str, Callable[[], float]] = {"cpu": time.thread_time, "wall": time.perf_counter}
DEFAULT_CLOCK = "cpu"


def _timed_samples(
    runs: Sequence[Callable[[], object]], repeats: int, warmup: int, clock: str
) -> list[list[float]]:
    """`repeats` times in ms of each run. The runs take turns, one timed call each per
    round, so a change in the load from elsewhere on the machine reaches all of them alike."""
    now = CLOCKS[clock]
    for run in runs:
        for _ in range(warmup):
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        for run, times in zip(runs, samples, strict=True):
            start = now()
            run()
            times.append(1000 * (now() - start))
    return samples


def _runner(model, rng: np.random.Generator) -> Callable[[], object]:
    from tasks.latency_graphs import model_input

    session, feed = _session(model), model_input(model, rng)
    return lambda: session.run(None, feed)


def check_archs(n: int, seed: int = 0) -> list[str]:
    """Archs for the whole-network check: the largest and the smallest sub-network (the
    two ends of the range), then seeded samples of every depth."""
    largest = encode_arch(12, [12] * 12, [4.0] * 12)
    smallest = encode_arch(10, [10] * 10, [3.0] * 10)
    return [largest, smallest, *sample_archs(max(n - 2, 0), np.random.default_rng(seed))][:n]


# Whole networks timed in one round with the layer graphs. A 12-layer graph holds 86M
# weights (about 350 MB in onnxruntime), so a few at a time keep the memory near 1.5 GB.
NETWORKS_PER_ROUND = 4


def measure_latency_table(
    image_size: int = DEFAULT_IMAGE_SIZE,
    repeats: int = 7,
    warmup: int = 2,
    n_check_archs: int = 4,
    clock: str = DEFAULT_CLOCK,
    seed: int = 0,
) -> LatencyMeasurement:
    """Measure the 9 layer kinds and the fixed part on this machine's CPU, and time
    `n_check_archs` whole sub-networks to compare with the table's sums.

    The whole networks are timed in the same rounds as the layer graphs (a few networks
    per round, the layer graphs again in every round; the table is the median over all
    rounds). Timed one after the other instead, on this shared machine, the networks met
    a heavier load than the layers had and the check read 8% too slow on average; timed
    together, 3%."""
    from tasks.latency_graphs import block_model, network_model

    if repeats < 1 or warmup < 0 or n_check_archs < 0 or clock not in CLOCKS:
        raise ValueError(
            f"expected repeats >= 1, warmup >= 0, check archs >= 0, clock in {sorted(CLOCKS)}; "
            f"got {repeats}, {warmup}, {n_check_archs}, {clock!r}"
        )
    rng = np.random.default_rng(seed)
    models = [block_model(kind, image_size, rng) for kind in range(N_KINDS)]
    models.append(network_model([], image_size, rng))  # the fixed part alone
    part_runs = [_runner(m, rng) for m in models]
    del models
    archs = check_archs(n_check_archs, seed)
    part_samples: list[list[float]] = [[] for _ in part_runs]
    network_ms: dict[str, float] = {}
    for first in range(0, max(len(archs), 1), NETWORKS_PER_ROUND):
        group = archs[first : first + NETWORKS_PER_ROUND]
        network_runs = [
            _runner(network_model(_layer_kinds(a), image_size, rng), rng) for a in group
        ]
        samples = _timed_samples(part_runs + network_runs, repeats, warmup, clock)
        for collected, new in zip(part_samples, samples, strict=False):
            collected.extend(new)
        for arch, times in zip(group, samples[len(part_runs) :], strict=True):
            network_ms[arch] = statistics.median(times)
            logger.info("%s: %.2f ms", arch, network_ms[arch])
        del network_runs  # free this round's networks before building the next
    *per_kind, fixed = (statistics.median(times) for times in part_samples)
    table = AdditiveCost(
        "latency",
        UNIT,
        fixed,
        tuple(per_kind),
        f"onnxruntime CPU, {THREADS} thread, {clock} clock, {image_size}px",
    )
    predicted = table.of_archs(archs) if archs else []
    checks = tuple(
        NetworkCheck(a, network_ms[a], float(p)) for a, p in zip(archs, predicted, strict=True)
    )
    return LatencyMeasurement(table, checks, image_size, repeats, clock, describe_device())


def _layer_kinds(arch: str) -> list[int]:
    return [int(kind) for kind in kind_matrix([arch])[0] if kind >= 0]
