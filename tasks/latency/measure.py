"""Measuring a latency table on this machine: each layer kind and the fixed part as an ONNX
graph with random weights (graphs.py), timed with onnxruntime on the CPU, then checked
against a few whole sub-networks timed the same way."""

from __future__ import annotations

import datetime
import logging
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from schemas.costs import (
    DEFAULT_IMAGE_SIZE,
    LARGEST_ARCH,
    N_KINDS,
    SMALLEST_ARCH,
    AdditiveCost,
    kind_matrix,
    mlp_hidden,
    n_tokens,
)
from schemas.search_space import EMBED_DIM, HEADS_BY_CODE, MLP_RATIO_BY_CODE, sample_archs
from tasks import cancellation
from tasks.errors import ParameterError
from tasks.latency.table import THREADS, UNIT, latency_table_bytes, measurements_bytes
from tasks.safety import outputs

logger = logging.getLogger(__name__)


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
            cancellation.check()
            run()
    samples: list[list[float]] = [[] for _ in runs]
    for _ in range(repeats):
        # Once per round, outside the timed calls (the flag read is not timed); a thread
        # running this (a deployment's task) gets no signal, only the flag.
        cancellation.check()
        for run, times in zip(runs, samples, strict=True):
            start = now()
            run()
            times.append(1000 * (now() - start))
    return samples


def _runner(model, rng: np.random.Generator) -> Callable[[], object]:
    from tasks.latency.graphs import model_input

    session, feed = _session(model), model_input(model, rng)
    return lambda: session.run(None, feed)


def check_archs(n: int, seed: int = 0) -> list[str]:
    """Archs for the whole-network check: the largest and the smallest sub-network (the
    two ends of the range), then seeded samples of every depth."""
    return [LARGEST_ARCH, SMALLEST_ARCH, *sample_archs(max(n - 2, 0), np.random.default_rng(seed))][
        :n
    ]


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
    from tasks.latency.graphs import block_model, network_model

    check_measure_parameters(image_size, repeats, n_check_archs, clock)
    if warmup < 0:
        raise ValueError(f"expected warmup >= 0, got {warmup}")
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
        cancellation.check()  # before building the next round's networks
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


# --- what is checked before measuring, and the writing ------------------------------------

FLOAT_BYTES = 4


def size_dependent_bytes(image_size: int) -> int:
    """The memory a measurement needs that grows with the image size: per graph held at
    once (9 kinds, the fixed part, a round's networks) a token tensor in and out, and,
    during a run, one block's attention scores and their softmax over every token pair,
    and its MLP's hidden activations. (The weights, about 1.5 GB, do not grow with it.)"""
    tokens = n_tokens(image_size)
    graphs = N_KINDS + 1 + NETWORKS_PER_ROUND
    attention = 2 * max(HEADS_BY_CODE.values()) * tokens**2
    hidden = tokens * mlp_hidden(max(MLP_RATIO_BY_CODE.values()))
    return FLOAT_BYTES * (graphs * 2 * tokens * EMBED_DIM + attention + hidden)


def available_memory_bytes() -> int | None:
    """Memory the kernel says can be used without swapping (MemAvailable), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


def check_measure_parameters(
    image_size: int, repeats: int, check_archs: int, clock: str = DEFAULT_CLOCK
) -> None:
    """Before any graph is built (`ufo measure-latency`): an image size the cost model
    accepts and whose graphs fit in this machine's memory, repeats >= 1, check archs >= 0,
    a known clock. One ParameterError naming every problem."""
    problems = []
    try:
        n_tokens(image_size)
    except ValueError as exc:
        problems.append(f"--image-size: {exc}")
    else:
        needed, available = size_dependent_bytes(image_size), available_memory_bytes()
        if available is not None and needed > available:
            problems.append(
                f"--image-size {image_size}: measuring needs about {needed / 1e9:.1f} GB of "
                f"memory ({n_tokens(image_size):,} tokens; attention grows with their square), "
                f"{available / 1e9:.1f} GB is available; measure at a smaller size"
            )
    if not isinstance(repeats, int) or repeats < 1:
        problems.append(f"--repeats must be >= 1, got {repeats!r}")
    if not isinstance(check_archs, int) or check_archs < 0:
        problems.append(f"--check-archs must be >= 0, got {check_archs!r}")
    if clock not in CLOCKS:
        problems.append(f"--clock must be one of {', '.join(sorted(CLOCKS))}, got {clock!r}")
    if problems:
        raise ParameterError("; ".join(problems))


def check_measure_latency(
    image_size: int,
    repeats: int,
    check_archs: int,
    clock: str,
    out: Path,
    measurements_out: Path | None,
    *,
    replace_any: bool,
    hint: str = outputs.REPLACE_HINT_CLI,
) -> None:
    """Everything `ufo measure-latency` checks before it measures, as one ParameterError:
    check_measure_parameters, and the two outputs (writable, two different regular
    files, unless `replace_any` (--force) absent or ufo's)."""
    problems = []
    for check in (
        lambda: check_measure_parameters(image_size, repeats, check_archs, clock),
        lambda: outputs.check_file_outputs(
            {"--out": out, "--measurements-out": measurements_out},
            replace_any=replace_any,
            hint=hint,
        ),
    ):
        try:
            check()
        except ParameterError as exc:
            problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))


def write_measured_latency(
    measured: LatencyMeasurement,
    out: Path,
    measurements_out: Path | None = None,
    *,
    replace_any: bool,
    hint: str = outputs.REPLACE_HINT_CLI,
) -> None:
    """Write the table (and, if asked, the whole-network latencies as a measurements
    file): both staged whole before either replaces anything, so a failure writes neither."""
    payloads = {Path(out): latency_table_bytes(measured.table, **measured.document_metadata())}
    if measurements_out is not None:
        latencies = {c.arch: c.measured_ms for c in measured.checks}
        payloads[Path(measurements_out)] = measurements_bytes(latencies)
    outputs.write_outputs(payloads, replace_any=replace_any, hint=hint)


def _layer_kinds(arch: str) -> list[int]:
    return [int(kind) for kind in kind_matrix([arch])[0] if kind >= 0]
