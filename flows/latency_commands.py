"""The latency commands: measure-latency (a table of this machine's CPU) and fit-latency
(a table fitted to measured sub-networks)."""

from __future__ import annotations

import argparse
from pathlib import Path

from flows.reporting import emit


def _emit_latency_table(table) -> None:
    from schemas.costs import N_KINDS, kind_label

    emit(f"latency table ({table.source}):")
    emit(f"  {'fixed part':<16} {table.fixed:9.2f} ms")
    for kind in range(N_KINDS):
        emit(f"  {kind_label(kind):<16} {table.per_kind[kind]:9.2f} ms")


def cmd_measure_latency(args: argparse.Namespace) -> int:
    from tasks.latency.measure import (
        check_measure_latency,
        measure_latency_table,
        write_measured_latency,
    )

    out = Path(args.out)
    measurements_out = Path(args.measurements_out) if args.measurements_out else None
    check_measure_latency(
        args.image_size,
        args.repeats,
        args.check_archs,
        args.clock,
        out,
        measurements_out,
        replace_any=args.force,
    )  # fmt: skip  (parameters and outputs, before any graph is built)
    emit(f"timing 9 layer kinds, the fixed part and {args.check_archs} whole sub-networks ...")
    measured = measure_latency_table(
        args.image_size, args.repeats, n_check_archs=args.check_archs, clock=args.clock
    )
    _emit_latency_table(measured.table)
    emit("whole sub-networks, each timed as one graph, against the table's sum:")
    for check in measured.checks:
        emit(
            f"  {check.arch}  measured {check.measured_ms:8.2f} ms  "
            f"table {check.predicted_ms:8.2f} ms  error {check.error_pct:+6.2f} %"
        )
    if measured.checks:
        emit(f"  mean absolute error {measured.check_mean_abs_pct:.2f} %")
    write_measured_latency(measured, out, measurements_out, replace_any=args.force)
    if measurements_out is not None:
        emit(f"wrote the {len(measured.checks)} whole-network latencies to {measurements_out}")
    emit(f"wrote the latency table to {out}")
    return 0


def cmd_fit_latency(args: argparse.Namespace) -> int:
    from tasks.latency.fit import check_fit_latency_output, fit_latency_table
    from tasks.latency.table import read_measurements, write_latency_table

    check_fit_latency_output(Path(args.measurements), Path(args.out), replace_any=args.force)
    fit = fit_latency_table(read_measurements(Path(args.measurements)), source=args.measurements)
    for warning in fit.warnings:
        emit(f"warning: {warning}")
    _emit_latency_table(fit.table)
    emit(
        f"leave-one-out error over {fit.n_measurements} archs: mean {fit.heldout_mean_abs_pct:.2f} %, "
        f"max {fit.heldout_max_abs_pct:.2f} % ({fit.heldout_worst_arch}); "
        f"in-sample mean {fit.fit_mean_abs_pct:.2f} %"
    )
    write_latency_table(Path(args.out), fit.table, replace_any=args.force, notes=fit.table.source)
    emit(f"wrote the latency table to {args.out}")
    return 0
