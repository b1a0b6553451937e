"""The latency commands: `ufo measure-latency` and `ufo fit-latency`."""

from __future__ import annotations

import argparse
from pathlib import Path

from tasks.errors import ParameterError


def _emit_latency_table(emit, table) -> None:
    from schemas.costs import N_KINDS, kind_label

    emit(f"latency table ({table.source}):")
    emit(f"  {'fixed part':<16} {table.fixed:9.2f} ms")
    for kind in range(N_KINDS):
        emit(f"  {kind_label(kind):<16} {table.per_kind[kind]:9.2f} ms")


def cmd_measure_latency(args: argparse.Namespace) -> int:
    from schemas.costs import n_tokens
    from tasks.latency.measure import measure_latency_table
    from tasks.latency.table import write_latency_table, write_measurements

    emit = args.session.view.line
    try:
        n_tokens(args.image_size)
    except ValueError as error:
        raise ParameterError(f"--image-size: {error}") from None
    if args.repeats < 1 or args.check_archs < 0:
        raise ParameterError(
            f"--repeats must be >= 1 and --check-archs >= 0, got {args.repeats} and {args.check_archs}"
        )
    emit(f"timing 9 layer kinds, the fixed part and {args.check_archs} whole sub-networks ...")
    measured = measure_latency_table(
        args.image_size, args.repeats, n_check_archs=args.check_archs, clock=args.clock
    )
    _emit_latency_table(emit, measured.table)
    emit("whole sub-networks, each timed as one graph, against the table's sum:")
    for check in measured.checks:
        emit(
            f"  {check.arch}  measured {check.measured_ms:8.2f} ms  "
            f"table {check.predicted_ms:8.2f} ms  error {check.error_pct:+6.2f} %"
        )
    if measured.checks:
        emit(f"  mean absolute error {measured.check_mean_abs_pct:.2f} %")
    if args.measurements_out:
        measurements = {c.arch: c.measured_ms for c in measured.checks}
        write_measurements(Path(args.measurements_out), measurements)
        emit(f"wrote the {len(measurements)} whole-network latencies to {args.measurements_out}")
    write_latency_table(Path(args.out), measured.table, **measured.document_metadata())
    emit(f"wrote the latency table to {args.out}")
    return 0


def cmd_fit_latency(args: argparse.Namespace) -> int:
    from tasks.latency.fit import fit_latency_table
    from tasks.latency.table import read_measurements, write_latency_table

    emit = args.session.view.line
    fit = fit_latency_table(read_measurements(Path(args.measurements)), source=args.measurements)
    _emit_latency_table(emit, fit.table)
    emit(
        f"leave-one-out error over {fit.n_measurements} archs: mean {fit.heldout_mean_abs_pct:.2f} %, "
        f"max {fit.heldout_max_abs_pct:.2f} % ({fit.heldout_worst_arch}); "
        f"in-sample mean {fit.fit_mean_abs_pct:.2f} %"
    )
    write_latency_table(Path(args.out), fit.table, notes=fit.table.source)
    emit(f"wrote the latency table to {args.out}")
    return 0
