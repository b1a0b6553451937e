"""A latency table fitted by non-negative least squares to measured whole sub-networks,
with its leave-one-out error, and warnings for a fit that is legal but suspicious.

Every fitted term is at most the largest measurement (a term above it could be lowered to
fit every arch holding it better), so a fit of measurements the reader accepted is
within the table's limit (tasks/safety/limits.py)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import nnls

from schemas.costs import (
    N_KINDS,
    AdditiveCost,
    kind_counts,
    kind_label,
    kind_matrix,
)
from tasks.latency.table import MIN_MEASUREMENTS, UNIT, LatencyFileError
from tasks.safety import outputs

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LatencyFit:
    """A table fitted to measured whole sub-networks, and how well it predicts unseen ones."""

    table: AdditiveCost
    n_measurements: int
    heldout_mean_abs_pct: float  # leave-one-out: each arch predicted by a fit without it
    heldout_max_abs_pct: float
    heldout_worst_arch: str
    fit_mean_abs_pct: float  # in-sample, for comparison
    warnings: tuple[str, ...] = ()  # legal but suspicious: printed, not refused


def fit_warnings(measurements: dict[str, float], source: object) -> tuple[str, ...]:
    """Measurements that fit but say little: every one the same, whatever the arch."""
    values = set(measurements.values())
    if len(values) == 1:
        return (
            f"{source}: all {len(measurements)} measurements are {values.pop():g} ms, whatever "
            "the sub-network: the fitted table puts everything in the fixed part and 0 ms in "
            "every layer, so a latency budget cannot tell sub-networks apart; check how they "
            "were timed",
        )
    return ()


def check_fit_latency_output(
    measurements: Path, out: Path, *, replace_any: bool, hint: str = outputs.REPLACE_HINT_CLI
) -> None:
    """Before the fit (`ufo fit-latency`): --out can be written, is not --measurements
    under any name nor a device, and unless `replace_any` (--force) is absent or ufo's."""
    outputs.check_file_outputs(
        {"--out": out}, inputs={"--measurements": measurements}, replace_any=replace_any, hint=hint
    )


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
        warnings=fit_warnings(measurements, source),
    )


# --- measuring on this machine -------------------------------------------------------------
