"""The `ufo` command line: run, search, evaluate, validate, make-test, make-demo, predictors."""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import logging
import os
import sys
import threading
from pathlib import Path
from typing import NoReturn

from flows import console
from flows.lifetime import PrefectDatabaseError
from flows.runners import DEFAULT_RUNNER
from flows.settings import configure_prefect_environment, quiet_tracebacks_for
from schemas.costs import DEFAULT_IMAGE_SIZE
from schemas.search_space import ARCH_FIELD, RANK_FIELDS, ArchError
from tasks import errors, paths
from tasks.checks.parameters import (
    DEMO_SEED,
    DEMO_TEST_SIZE,
    DEMO_TRAIN_SIZE,
)
from tasks.errors import HoldoutError, ParameterError
from tasks.files import atomic, reading, writing
from tasks.predict.predictors import UnknownPredictorError
from tasks.search.parameters import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVALS,
    DEFAULT_SEARCH_OBJECTIVE,
    DEFAULT_TOP,
)

logger = logging.getLogger("ufo")
# Errors a user can fix: reported as one paragraph, no traceback, exit code 2. Anything
# else is a bug: exit code 3, a short message, the traceback in the log file.
USER_ERRORS = (
    errors.InputFileError,
    ParameterError,
    HoldoutError,
    ArchError,
    UnknownPredictorError,
    errors.OutputError,
    PrefectDatabaseError,
)
EXIT_INVALID_INPUT, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 1, 2, 3, 130
LOGGED_COMMANDS = ("run", "search", "evaluate", "validate")  # say where their full log is
_VIEW: console.View | None = None  # the running command's console, if any


def emit(text: str) -> None:
    if _VIEW is not None:
        _VIEW.line(text)
        return
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _report_run(args: argparse.Namespace, written: str) -> None:
    """The end of a run: the tau table, the submission and where the full log is."""
    session: console.Session = args.session
    session.view.stop()
    view = session.view
    if view.taus:
        emit(console.tau_table(view.taus, f"Kendall tau on the holdout {view.holdout}:"))
    elif args.holdout != "none":
        emit("Kendall tau per task: see the kendall-tau artifact (dashboard) or the log")
    # The write step's own record of the bytes it put in place (its "written" event), or,
    # when that record did not reach this process (a task on another machine), the file.
    record = view.written if view.written.get("path") == written else {}
    size, digest = record.get("bytes"), record.get("sha256")
    if size is None or digest is None:
        size, digest = Path(written).stat().st_size, atomic.sha256_file(Path(written))
    emit(f"submission written to {written}")
    emit(f"  {size} bytes, sha256 {digest}")


def _default_predictor() -> str:
    from tasks.predict.predictors import DEFAULT_PREDICTOR

    return DEFAULT_PREDICTOR


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.checks.parameters import check_run_parameters
    from tasks.checks.validation import ValidationFailed

    # Parameters are checked before Prefect starts (the flow checks them again, for
    # deployment runs that do not come through this command).
    run = check_run_parameters(
        args.train, args.test, args.out, args.predictor or _default_predictor(), args.holdout
    )
    from tasks.safety.confinement import REPLACE_HINT_CLI, check_submission_output

    check_submission_output(run.out, run.test, replace_any=args.force, hint=REPLACE_HINT_CLI)
    configure_prefect_environment()
    from flows.lifetime import start_temporary_server_tied_to_us

    start_temporary_server_tied_to_us()  # dies with us, even on kill -9
    from flows.pipeline import ufo_pipeline
    from flows.runners import build_task_runner

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))

    pipeline = ufo_pipeline.with_options(task_runner=build_task_runner(args.runner))
    # fit-<task>, and holdout-<task> unless there is no holdout
    args.session.view.plan = console.Plan(steps_per_task=1 if run.holdout.kind == "none" else 2)
    written = pipeline(
        train=args.train,
        test=args.test,
        out=args.out,
        predictor=args.predictor or _default_predictor(),
        holdout=args.holdout,
        holdout_seed=args.holdout_seed,
        refit=args.refit,
        fault=args.fault,
    )
    _report_run(args, written)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from tasks.checks.validation import ValidationFailed
    from tasks.search.parameters import check_search_parameters

    options = dict(
        train=args.train,
        task=args.task,
        budget=args.budget,
        latency_table=args.latency_table,
        top=args.top,
        predictor=args.predictor or _default_predictor(),
        out=args.out,
        image_size=args.image_size,
        max_evals=args.max_evals,
    )
    check_search_parameters(**options)  # before Prefect starts, as for `ufo run`
    configure_prefect_environment()
    from flows.lifetime import start_temporary_server_tied_to_us

    start_temporary_server_tied_to_us()
    from flows.runners import build_task_runner
    from flows.search import ufo_search

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))
    search = ufo_search.with_options(task_runner=build_task_runner(args.runner))
    from schemas.search_space import TASKS

    args.session.view.plan = console.Plan(
        tasks=TASKS
    )  # all eight are fitted, whatever the objective
    out = Path(search(**options))
    args.session.view.stop()
    picks = json.loads((out / "picks.json").read_text())
    has_latency = bool(picks) and "latency_ms" in picks[0]
    emit(f"picks within {args.budget} (objective {args.task}, predictor {options['predictor']}):")
    header = f"{'#':>3}  {'arch':<37}  {'params':>8}  {'MACs':>7}"
    emit(header + ("  latency" if has_latency else "") + "  predicted")
    for pick in picks:
        line = f"{pick['rank']:>3}  {pick['arch']:<37}  {pick['params'] / 1e6:>7.2f}M  {pick['macs'] / 1e9:>6.2f}G"
        if has_latency:
            line += f"  {pick['latency_ms']:>6.2f}ms"
        emit(line + f"  {pick['predicted']:+.3f}")
    emit(f"report written to {out}: picks.json/.csv, front.json/.csv, front.png")
    return 0


def _read_valid(path: str, kind: str, reference=None):
    from tasks.checks.validation import require_valid, validate_frame

    frame, _ = reading.read_competition_file(Path(path))
    require_valid(validate_frame(frame, kind, source=path, reference=reference))
    return frame


def cmd_evaluate(args: argparse.Namespace) -> int:
    from schemas.search_space import TASKS
    from tasks.predict.encode import encode_archs_cached
    from tasks.predict.evaluate import evaluate_predictor, parse_holdout, summarise_taus
    from tasks.predict.predictors import get_predictor_class

    predictor = args.predictor or _default_predictor()
    holdout = parse_holdout(args.holdout)
    if holdout.kind == "none":
        raise HoldoutError("evaluate needs a holdout: last:N or kfold:K")
    encoding = get_predictor_class(predictor).encoding
    args.session.view.plan = console.Plan(label="tasks evaluated")
    frame = _read_valid(args.train, "train")
    features = encode_archs_cached(list(frame[ARCH_FIELD]), encoding, paths.cache_dir()).features
    ranks = frame[list(RANK_FIELDS)].astype(float).to_numpy()
    summary = summarise_taus(
        evaluate_predictor(predictor, features, ranks, holdout, holdout_seed=args.holdout_seed)
    )
    args.session.view.stop()
    if args.json:  # stdout holds only the JSON object (stage lines went to stderr)
        sys.stdout.write(
            json.dumps(
                {
                    "predictor": predictor,
                    "holdout": str(holdout),
                    "tau": {t: summary[t] for t in TASKS},
                    "average": summary["average"],
                }
            )
            + "\n"
        )
    else:
        emit(console.tau_table(summary, f"Kendall tau, predictor {predictor}, holdout {holdout}:"))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tasks.checks.validation import validate_frame

    reference = None
    if args.kind == "submission":
        if not args.test:
            raise ParameterError("validating a submission needs --test, the test file it answers")
        # Read, not validated: a submission that passes its suite has the test file's keys
        # and archs, in order, so those are unique and well-formed too; the test file's own
        # rank placeholders play no part. (Its suite would cost a third of the time.)
        reference, _ = reading.read_competition_file(Path(args.test))
    frame, _ = reading.read_competition_file(Path(args.file))
    report = validate_frame(frame, args.kind, source=args.file, reference=reference)
    emit(report.to_text())
    return 0 if report.success else 1


def cmd_make_test(args: argparse.Namespace) -> int:
    from tasks.predict.synthetic import make_test_standin

    train = _read_valid(args.train, "train")
    frame = make_test_standin(list(train[ARCH_FIELD]), args.n, args.seed)
    writing.write_competition_frame(Path(args.out), frame)
    emit(f"wrote a stand-in test file with {len(frame)} archs to {args.out}")
    return 0


def cmd_make_demo(args: argparse.Namespace) -> int:
    from tasks.predict.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(args.n, args.seed)
    writing.write_competition_frame(Path(args.out), train)
    test = make_test_standin(list(train[ARCH_FIELD]), args.n_test, args.seed + 1)
    writing.write_competition_frame(Path(args.test_out), test)
    emit(f"wrote SYNTHETIC demo training file ({len(train)} archs) to {args.out}")
    emit(f"wrote demo test file ({len(test)} archs) to {args.test_out}")
    return 0


def cmd_predictors(args: argparse.Namespace) -> int:
    from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS

    for name, cls in sorted(PREDICTORS.items()):
        marker = " (default)" if name == DEFAULT_PREDICTOR else ""
        emit(f"{name}{marker}: {cls.description}")
    return 0


def _emit_latency_table(table) -> None:
    from schemas.costs import N_KINDS, kind_label

    emit(f"latency table ({table.source}):")
    emit(f"  {'fixed part':<16} {table.fixed:9.2f} ms")
    for kind in range(N_KINDS):
        emit(f"  {kind_label(kind):<16} {table.per_kind[kind]:9.2f} ms")


def cmd_measure_latency(args: argparse.Namespace) -> int:
    from schemas.costs import n_tokens
    from tasks.latency.measure import measure_latency_table
    from tasks.latency.table import write_latency_table, write_measurements

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
    _emit_latency_table(measured.table)
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

    fit = fit_latency_table(read_measurements(Path(args.measurements)), source=args.measurements)
    _emit_latency_table(fit.table)
    emit(
        f"leave-one-out error over {fit.n_measurements} archs: mean {fit.heldout_mean_abs_pct:.2f} %, "
        f"max {fit.heldout_max_abs_pct:.2f} % ({fit.heldout_worst_arch}); "
        f"in-sample mean {fit.fit_mean_abs_pct:.2f} %"
    )
    write_latency_table(Path(args.out), fit.table, notes=fit.table.source)
    emit(f"wrote the latency table to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ufo", description="Predict VIMER-UFO sub-network ranks on eight tasks."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run", help="run the pipeline flow: validate, fit, evaluate, write a checked submission"
    )
    run.add_argument("--train", help="training JSON (default: the demo file)")
    run.add_argument("--test", help="test JSON (default: the demo file)")
    run.add_argument(
        "--out", help="submission path (default: data/submissions/demo_submission.json)"
    )
    run.add_argument(
        "--predictor",
        help="registered predictor (see `ufo predictors`; default: the benchmark's best)",
    )
    run.add_argument(
        "--holdout", default="last:100", help="last:N, kfold:K or none (default last:100)"
    )
    run.add_argument(
        "--holdout-seed", type=int, default=0, help="shuffles the kfold:K holdout folds (default 0)"
    )
    run.add_argument(
        "--refit",
        action="store_true",
        help="recompute the fits even if their results are cached under data/prefect-results",
    )
    run.add_argument(
        "--force", action="store_true", help="replace --out even if ufo did not write it"
    )
    run.add_argument(
        "--runner", default=DEFAULT_RUNNER, help="threads, dask (local cluster) or tcp://HOST:PORT"
    )
    run.add_argument(
        "--fault", help=argparse.SUPPRESS
    )  # testing aid: fail a step once, e.g. fit:vehicleid
    run.set_defaults(handler=cmd_run)

    evaluate = sub.add_parser("evaluate", help="fit and score on a labelled file only")
    evaluate.add_argument("--train", required=True)
    evaluate.add_argument("--predictor")
    evaluate.add_argument("--holdout", default="last:100")
    evaluate.add_argument(
        "--holdout-seed", type=int, default=0, help="shuffles the kfold:K folds (default 0)"
    )
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.set_defaults(handler=cmd_evaluate)

    validate = sub.add_parser("validate", help="check a file against its Great Expectations suite")
    validate.add_argument("file")
    validate.add_argument("--kind", required=True, choices=["train", "test", "submission"])
    validate.add_argument("--test", help="for --kind submission: the test file it answers")
    validate.set_defaults(handler=cmd_validate)

    make_test = sub.add_parser("make-test", help="write a stand-in test file (ranks all 0)")
    make_test.add_argument("--train", required=True)
    make_test.add_argument("--out", required=True)
    make_test.add_argument("--n", type=int, default=99_500)
    make_test.add_argument("--seed", type=int, default=0, help="seeds the arch sampler")
    make_test.set_defaults(handler=cmd_make_test)

    make_demo = sub.add_parser(
        "make-demo", help="write the SYNTHETIC demo training file and a demo test file"
    )
    make_demo.add_argument("--out", default=str(paths.demo_train_path()))
    make_demo.add_argument("--test-out", default=str(paths.demo_test_path()))
    make_demo.add_argument("--n", type=int, default=DEMO_TRAIN_SIZE)
    make_demo.add_argument("--n-test", type=int, default=DEMO_TEST_SIZE)
    make_demo.add_argument("--seed", type=int, default=DEMO_SEED, help="seeds the synthetic data")
    make_demo.set_defaults(handler=cmd_make_demo)

    search = sub.add_parser(
        "search",
        help="choose sub-networks to deploy: the best predicted within a budget, and the Pareto front",
    )
    search.add_argument("--train", help="labelled training JSON (default: the demo file)")
    search.add_argument(
        "--task",
        default=DEFAULT_SEARCH_OBJECTIVE,
        help="one task (e.g. market1501) or all: the mean of the eight standardised (default: all)",
    )
    search.add_argument(
        "--budget",
        default=DEFAULT_BUDGET,
        help=f"params=60M, macs=15G or latency=12ms; latency needs --latency-table (default {DEFAULT_BUDGET})",
    )
    search.add_argument("--latency-table", help="latency lookup table (ufo measure-latency)")
    search.add_argument("--top", type=int, default=DEFAULT_TOP, help="how many picks")
    search.add_argument("--predictor", help="registered predictor (default: the benchmark's best)")
    search.add_argument("--out", help="report folder (default: data/search)")
    search.add_argument(
        "--image-size",
        type=int,
        default=DEFAULT_IMAGE_SIZE,
        help=f"input size for MACs (default {DEFAULT_IMAGE_SIZE}, UFO's evaluation size)",
    )
    search.add_argument(
        "--max-evals",
        type=int,
        default=DEFAULT_MAX_EVALS,
        help=f"model evaluations for a non-additive predictor's search (default {DEFAULT_MAX_EVALS})",
    )
    search.add_argument("--runner", default=DEFAULT_RUNNER, help="threads, dask or tcp://HOST:PORT")
    search.set_defaults(handler=cmd_search)

    measure_latency = sub.add_parser(
        "measure-latency",
        help="measure a latency table on this CPU (onnxruntime, 1 thread) and check it on whole sub-networks",
    )
    measure_latency.add_argument("--out", required=True, help="latency table JSON to write")
    measure_latency.add_argument("--image-size", type=int, default=DEFAULT_IMAGE_SIZE)
    measure_latency.add_argument(
        "--repeats", type=int, default=7, help="timed runs per graph (median)"
    )
    measure_latency.add_argument(
        "--check-archs", type=int, default=4, help="whole sub-networks to check"
    )
    measure_latency.add_argument(
        "--measurements-out",
        help="also write the whole-network latencies as a measurements file (for fit-latency)",
    )
    measure_latency.add_argument(
        "--clock",
        choices=["cpu", "wall"],
        default="cpu",
        help="cpu: the computing thread's CPU time, steady on a shared machine (default); wall: elapsed time",
    )
    measure_latency.set_defaults(handler=cmd_measure_latency)
    fit_latency = sub.add_parser(
        "fit-latency",
        help="fit a latency table to measured sub-networks (NNLS, leave-one-out error)",
    )
    fit_latency.add_argument("--measurements", required=True, help='JSON {"<arch>": ms, ...}')
    fit_latency.add_argument("--out", required=True, help="latency table JSON to write")
    fit_latency.set_defaults(handler=cmd_fit_latency)

    predictors = sub.add_parser("predictors", help="list registered predictors")
    predictors.set_defaults(handler=cmd_predictors)
    for command in sub.choices.values():
        command.add_argument(
            "--verbose",
            action="store_true",
            help="show the full Prefect and library logs on the console (they always go to the log file)",
        )
    return parser


def main(argv: list[str] | None = None) -> int:
    global _VIEW
    args = build_parser().parse_args(argv)
    # `evaluate --json` keeps stdout for the JSON object; stage lines go to stderr.
    out = sys.stderr if getattr(args, "json", False) else sys.stdout
    with console.session(args.command, args.verbose, out=out) as session:
        args.session, _VIEW = session, session.view
        try:
            code = _run_handler(args, session)
        finally:
            _VIEW = None
        if args.command in LOGGED_COMMANDS and (code == 0 or session.log_path.exists()):
            out.write(f"full log: {session.log_path}\n")
        return code


def _run_handler(args: argparse.Namespace, session: console.Session) -> int:
    from tasks.checks.validation import ValidationFailed

    try:
        return args.handler(args)
    except ValidationFailed as failed:
        session.view.stop()
        sys.stderr.write(f"ufo: input rejected, nothing was written.\n{failed.report.to_text()}\n")
        return EXIT_INVALID_INPUT
    except USER_ERRORS as error:
        session.view.stop()
        sys.stderr.write(f"ufo: {error}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        session.view.stop()
        sys.stderr.write("ufo: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as error:  # a bug, not the user's mistake: never disguised as one
        session.view.stop()
        logger.error("internal error in `ufo %s`", args.command, exc_info=error)
        sys.stderr.write(
            f"ufo: internal error ({type(error).__name__}: {error}). This is a bug in ufo-nas, "
            f"not a problem with your input.\nThe full traceback is in {session.log_path}\n"
        )
        return EXIT_INTERNAL_ERROR


def entry_point() -> NoReturn:
    """The `ufo` command (pyproject.toml's script): `main`, then the end of a normal exit
    (threads joined, atexit hooks run: Prefect's log and event flush, the temporary
    server's stop), then the process ends without the interpreter freeing every module
    and object one by one. That teardown did nothing useful and took 2.7 s of a 25 s
    `ufo run` of 99,500 archs here (bench/README.md, "Scale")."""
    code = main()
    # What the interpreter itself runs first at exit: the thread-exit hooks (a thread pool
    # left open stops its idle workers there) and the join of non-daemon threads.
    # Joining without those hooks would wait forever on an idle pool's workers.
    shutdown_threads = getattr(threading, "_shutdown", None)
    if shutdown_threads is not None:
        shutdown_threads()
    atexit._run_exitfuncs()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError):  # a closed pipe: nothing left to tell anyone
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    entry_point()
