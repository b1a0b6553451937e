"""What each `ufo` command does (the latency ones: flows/latency_commands.py). A handler
takes the parsed arguments, with `args.session` the console session, and returns the exit
code; heavy imports wait until a command needs them."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flows import console
from flows.lifetime import PrefectDatabaseError
from flows.settings import configure_prefect_environment, quiet_tracebacks_for
from schemas.search_space import ARCH_FIELD, RANK_FIELDS, TASKS, ArchError
from tasks import errors, paths
from tasks.errors import HoldoutError, ParameterError
from tasks.files import atomic, reading, writing
from tasks.predict.predictors import UnknownPredictorError

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
# How long the end of a run waits for the last task states from Prefect's event stream.
TASK_STATES_SECONDS = 15


def _default_predictor() -> str:
    from tasks.predict.predictors import DEFAULT_PREDICTOR

    return DEFAULT_PREDICTOR


def _prepare_prefect() -> None:
    """Prefect's settings, then its API: the user's (PREFECT_API_URL) or a temporary
    server that dies with us, even on kill -9."""
    configure_prefect_environment()  # before Prefect is imported
    from flows.lifetime import start_temporary_server_tied_to_us
    from tasks.checks.validation import ValidationFailed

    start_temporary_server_tied_to_us()
    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))


def _run_flow(flow, runner: str, view: console.View, **parameters):
    """Call `flow` on the `runner` task runner, with its task states shown in `view`."""
    from flows.runners import build_task_runner
    from flows.task_states import TaskStateFeed

    feed = TaskStateFeed(view.on_task_state)
    flow = flow.with_options(
        task_runner=build_task_runner(runner), on_running=[*flow.on_running_hooks, feed.follow]
    )
    try:
        result = flow(**parameters)
        if feed.following and not view.wait_for_plan(TASK_STATES_SECONDS):
            logger.info("some task states had not arrived %d s after the run", TASK_STATES_SECONDS)
        return result
    finally:
        feed.stop()


def _report_run(args: argparse.Namespace, written: str) -> None:
    """The end of a run: the tau table, the submission and where the full log is."""
    view: console.View = args.session.view
    view.stop()
    if view.taus:
        view.line(console.tau_table(view.taus, f"Kendall tau on the holdout {view.holdout}:"))
    elif args.holdout != "none":
        view.line("Kendall tau per task: see the kendall-tau artifact (dashboard) or the log")
    # The write step's own record of the bytes it put in place (its "written" event), or,
    # when that record did not reach this process (a task on another machine), the file.
    record = view.written if view.written.get("path") == written else {}
    size, digest = record.get("bytes"), record.get("sha256")
    if size is None or digest is None:
        size, digest = Path(written).stat().st_size, atomic.sha256_file(Path(written))
    view.line(f"submission written to {written}")
    view.line(f"  {size} bytes, sha256 {digest}")


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.checks.parameters import check_run_parameters

    predictor = args.predictor or _default_predictor()
    # Parameters are checked before Prefect starts (the flow checks them again, for
    # deployment runs that do not come through this command).
    run = check_run_parameters(args.train, args.test, args.out, predictor, args.holdout)
    from tasks.safety.confinement import REPLACE_HINT_CLI, check_submission_output

    check_submission_output(run.out, run.test, replace_any=args.force, hint=REPLACE_HINT_CLI)
    _prepare_prefect()
    from flows.pipeline import ufo_pipeline

    view: console.View = args.session.view
    # fit-<task>, and holdout-<task> unless there is no holdout
    view.plan = console.Plan(steps_per_task=1 if run.holdout.kind == "none" else 2)
    written = _run_flow(
        ufo_pipeline,
        args.runner,
        view,
        train=args.train,
        test=args.test,
        out=args.out,
        predictor=predictor,
        holdout=args.holdout,
        holdout_seed=args.holdout_seed,
        refit=args.refit,
        fault=args.fault,
    )
    _report_run(args, written)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from tasks.checks.parameters import check_search_parameters

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
    _prepare_prefect()
    from flows.search import ufo_search

    view: console.View = args.session.view
    view.plan = console.Plan(tasks=TASKS)  # all eight are fitted, whatever the objective
    out = Path(_run_flow(ufo_search, args.runner, view, **options))
    view.stop()
    _show_picks(view, json.loads((out / "picks.json").read_text()), args, options["predictor"])
    view.line(f"report written to {out}: picks.json/.csv, front.json/.csv, front.png")
    return 0


def _show_picks(view: console.View, picks: list[dict], args, predictor: str) -> None:
    has_latency = bool(picks) and "latency_ms" in picks[0]
    view.line(f"picks within {args.budget} (objective {args.task}, predictor {predictor}):")
    header = f"{'#':>3}  {'arch':<37}  {'params':>8}  {'MACs':>7}"
    view.line(header + ("  latency" if has_latency else "") + "  predicted")
    for pick in picks:
        line = f"{pick['rank']:>3}  {pick['arch']:<37}  {pick['params'] / 1e6:>7.2f}M  {pick['macs'] / 1e9:>6.2f}G"
        if has_latency:
            line += f"  {pick['latency_ms']:>6.2f}ms"
        view.line(line + f"  {pick['predicted']:+.3f}")


def _read_valid(path: str, kind: str, reference=None):
    from tasks.checks.validation import require_valid, validate_frame

    frame, _ = reading.read_competition_file(Path(path))
    require_valid(validate_frame(frame, kind, source=path, reference=reference))
    return frame


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tasks.predict.encode import encode_archs_cached
    from tasks.predict.evaluate import evaluate_predictor, parse_holdout, summarise_taus
    from tasks.predict.predictors import get_predictor_class

    predictor = args.predictor or _default_predictor()
    holdout = parse_holdout(args.holdout)
    if holdout.kind == "none":
        raise HoldoutError("evaluate needs a holdout: last:N or kfold:K")
    encoding = get_predictor_class(predictor).encoding
    view: console.View = args.session.view
    view.plan = console.Plan(label="tasks evaluated")
    frame = _read_valid(args.train, "train")
    features = encode_archs_cached(list(frame[ARCH_FIELD]), encoding, paths.cache_dir()).features
    ranks = frame[list(RANK_FIELDS)].astype(float).to_numpy()
    summary = summarise_taus(
        evaluate_predictor(predictor, features, ranks, holdout, holdout_seed=args.holdout_seed)
    )
    view.stop()
    if args.json:  # stdout holds only the JSON object (stage lines went to stderr)
        result = {
            "predictor": predictor,
            "holdout": str(holdout),
            "tau": {t: summary[t] for t in TASKS},
            "average": summary["average"],
        }
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        title = f"Kendall tau, predictor {predictor}, holdout {holdout}:"
        view.line(console.tau_table(summary, title))
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
    args.session.view.line(report.to_text())
    return 0 if report.success else 1


def cmd_make_test(args: argparse.Namespace) -> int:
    from tasks.predict.synthetic import make_test_standin

    train = _read_valid(args.train, "train")
    frame = make_test_standin(list(train[ARCH_FIELD]), args.n, args.seed)
    writing.write_competition_frame(Path(args.out), frame)
    args.session.view.line(f"wrote a stand-in test file with {len(frame)} archs to {args.out}")
    return 0


def cmd_make_demo(args: argparse.Namespace) -> int:
    from tasks.predict.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(args.n, args.seed)
    writing.write_competition_frame(Path(args.out), train)
    test = make_test_standin(list(train[ARCH_FIELD]), args.n_test, args.seed + 1)
    writing.write_competition_frame(Path(args.test_out), test)
    view: console.View = args.session.view
    view.line(f"wrote SYNTHETIC demo training file ({len(train)} archs) to {args.out}")
    view.line(f"wrote demo test file ({len(test)} archs) to {args.test_out}")
    return 0


def cmd_predictors(args: argparse.Namespace) -> int:
    from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS

    for name, cls in sorted(PREDICTORS.items()):
        marker = " (default)" if name == DEFAULT_PREDICTOR else ""
        args.session.view.line(f"{name}{marker}: {cls.description}")
    return 0
