"""The `ufo` commands that run a flow or read and write competition files: run, search,
evaluate, validate, make-test, make-demo, predictors, export. Each takes the parsed
arguments and returns an exit code; errors are raised and reported by flows/cli.py."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flows import console
from flows.reporting import USER_ERRORS, emit
from flows.reporting import default_predictor as _default_predictor
from flows.settings import configure_prefect_environment, quiet_tracebacks_for
from schemas.search_space import ARCH_FIELD
from tasks import paths
from tasks.errors import HoldoutError, ParameterError
from tasks.files import atomic, reading, writing

logger = logging.getLogger("ufo")


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
    api = _start_prefect_for(args.runner)
    from flows.pipeline import ufo_pipeline

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))

    # fit-<task>, and holdout-<task> unless there is no holdout
    args.session.view.plan = console.Plan(steps_per_task=1 if run.holdout.kind == "none" else 2)
    with api:
        written = _run_flow(
            ufo_pipeline,
            args.runner,
            args.session.view,
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


def _search_options(args: argparse.Namespace) -> dict:
    from tasks.search.parameters import DEFAULT_BUDGET

    return dict(
        train=args.train,
        task=args.task,
        budget=args.budget or [DEFAULT_BUDGET],
        latency_table=args.latency_table,
        chips=args.chips,
        top=args.top,
        predictor=args.predictor or _default_predictor(),
        out=args.out,
        image_size=args.image_size,
        max_evals=args.max_evals,
    )


def _emit_picks(picks: list[dict], title: str) -> None:
    has_latency = bool(picks) and "latency_ms" in picks[0]
    emit(title)
    header = f"{'#':>3}  {'arch':<37}  {'params':>8}  {'MACs':>7}"
    has_sd = bool(picks) and "predicted_sd" in picks[0]
    emit(
        header
        + ("  latency" if has_latency else "")
        + "  predicted"
        + ("     sd" if has_sd else "")
    )
    for pick in picks:
        line = f"{pick['rank']:>3}  {pick['arch']:<37}  {pick['params'] / 1e6:>7.2f}M  {pick['macs'] / 1e9:>6.2f}G"
        if has_latency:
            line += f"  {pick['latency_ms']:>6.2f}ms"
        line += f"  {pick['predicted']:>+9.3f}"
        emit(line + (f"  {pick['predicted_sd']:>5.3f}" if has_sd else ""))


def _emit_decision(decision: dict | None) -> None:
    """decision.json on the console: the best measured arch beside the best unmeasured
    pick, the predicted gain with its sd, and what to do (tasks/search/decision.py)."""
    if not decision:
        return
    from tasks.search.decision import format_chance

    measured, pick = decision["best_measured"], decision["best_unmeasured_pick"]
    if measured is not None:
        ranks = ", ".join(
            f"{task} {r['rank']} of {r['of']}" for task, r in measured["measured_rank"].items()
        )
        emit(f"best measured within budget: {measured['arch']} (measured rank {ranks})")
    if pick is not None:
        line = f"best unmeasured pick:        {pick['arch']}"
        if decision["predicted_gain"] is not None:
            line += (
                f" (predicted gain {decision['predicted_gain']:+.3f} ± {decision['gain_sd']:.3f},"
                f" {format_chance(decision['chance_better'])} chance better)"
            )
        emit(line)
    emit(decision["advice"])


def cmd_search(args: argparse.Namespace) -> int:
    from schemas.objectives import describe_objective
    from tasks.checks.validation import ValidationFailed
    from tasks.search.chips import check_search_request
    from tasks.search.parameters import check_search_parameters

    options = _search_options(args)
    request = {k: options.pop(k) for k in ("budget", "latency_table", "chips", "out")}
    searches = check_search_request(
        request["budget"],
        request["latency_table"],
        request["chips"],
        request["out"],
        check_search_parameters,
        **options,
    )  # fmt: skip  (before Prefect starts, as for `ufo run`)
    from tasks.search.parameters import check_search_output

    for run in searches.runs:
        check_search_output(run, replace_any=args.force)
        for warning in run.warnings:
            emit(f"warning: {warning}")
    api = _start_prefect_for(args.runner)
    from flows.search import ufo_search
    from schemas.search_space import TASKS

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))
    args.session.view.plan = console.Plan(
        tasks=TASKS
    )  # all eight are fitted, whatever the objective
    with api:
        out = Path(_run_flow(ufo_search, args.runner, args.session.view, **options, **request))
    args.session.view.stop()
    objective = describe_objective(args.task)
    for run, chip in zip(searches.runs, searches.chips, strict=True):
        picks = json.loads((run.out / "picks.json").read_text())
        where = f"chip {chip}: " if chip else ""
        _emit_picks(
            picks,
            f"{where}picks within {run.budget} (objective {objective}, predictor {run.predictor}):",
        )
        _emit_decision(json.loads((run.out / "decision.json").read_text()))
    if searches.several:
        from tasks.search.chips_report import summary_table

        emit("chips:")
        emit(summary_table(json.loads((out / "chips.json").read_text())))
        emit(f"report written to {out}: a folder per chip, chips.json/.csv, fronts.png")
    else:
        emit(f"report written to {out}: picks.json/.csv, front.json/.csv, front.png, decision.json")
    return 0


def cmd_propose(args: argparse.Namespace) -> int:
    from tasks.checks.validation import ValidationFailed
    from tasks.search.parameters import DEFAULT_BUDGET, check_search_parameters
    from tasks.steps.propose import check_batch_size

    options = dict(
        train=args.train, task=args.task, budget=args.budget or DEFAULT_BUDGET,
        latency_table=args.latency_table, predictor=args.predictor or _default_predictor(),
        out=args.out, image_size=args.image_size, max_evals=args.max_evals,
    )  # fmt: skip
    check_batch_size(args.n)
    run = check_search_parameters(top=args.n, **options)  # before Prefect starts
    from tasks.search.parameters import check_search_output
    from tasks.search.propose import PROPOSAL_FILES

    check_search_output(run, replace_any=args.force, files=PROPOSAL_FILES)
    for warning in run.warnings:
        emit(f"warning: {warning}")
    api = _start_prefect_for(args.runner)
    from flows.propose import ufo_propose
    from schemas.search_space import TASKS

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))
    args.session.view.plan = console.Plan(tasks=TASKS)
    with api:
        out = Path(_run_flow(ufo_propose, args.runner, args.session.view, n=args.n, **options))
    args.session.view.stop()
    records = json.loads((out / "proposals.json").read_text())
    emit(f"evaluate next, within {run.budget} (predictor {run.predictor}):")
    emit(f"{'#':>3}  {'arch':<37}  {'params':>8}  {'MACs':>7}  predicted     sd  reason")
    for i, r in enumerate(records, start=1):
        emit(
            f"{i:>3}  {r['arch']:<37}  {r['params'] / 1e6:>7.2f}M  {r['macs'] / 1e9:>6.2f}G"
            f"  {r['predicted']:+9.3f}  {r['predicted_sd']:5.3f}  {r['reason']}"
        )
    emit(f"proposals written to {out}: proposals.json/.csv")
    return 0


# How long the console waits after a run for the last task states from Prefect's events.
TASK_STATES_SECONDS = 15


def _run_flow(flow, runner: str, view: console.View, **parameters):
    """Call `flow` on the `runner` task runner, with its task states shown in `view`
    (flows/task_states.py: from Prefect's event stream, not its log text)."""
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


def _start_prefect_for(runner: str):
    """Prefect's settings, the temporary server when no PREFECT_API_URL is set, and, for a
    Dask scheduler, the check that every worker reaches that API (before any work).
    Returns the settings to run the flow in: the API URL named explicitly, because Prefect
    sends the flow's settings with every task, so Dask workers report to this server and
    never start one of their own."""
    configure_prefect_environment()
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from flows.lifetime import start_temporary_server_tied_to_us

    start_temporary_server_tied_to_us()  # dies with us, even on kill -9; sets PREFECT_API_URL
    url = PREFECT_API_URL.value()
    if runner.startswith("tcp://"):
        from flows.workers import check_workers_reach_api

        check_workers_reach_api(runner, url, PREFECT_API_AUTH_STRING.value())
    return temporary_settings(updates={PREFECT_API_URL: url})


def cmd_export(args: argparse.Namespace) -> int:
    from schemas.costs import n_tokens
    from schemas.supernet import export_document, export_python

    try:
        n_tokens(args.image_size)
    except ValueError as error:
        raise ParameterError(f"--image-size: {error}") from None
    if args.format == "py":
        text = export_python(args.arch, image_size=args.image_size)
    else:
        text = json.dumps(export_document(args.arch, image_size=args.image_size), indent=1) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    atomic.write_bytes_atomic(Path(args.out), text.encode())
    emit(f"wrote the supernet config of {args.arch} to {args.out}")
    return 0


def _read_valid(path: str, kind: str, reference=None):
    from tasks.checks.validation import require_valid, validate_frame

    frame, _ = reading.read_competition_file(Path(path))
    require_valid(validate_frame(frame, kind, source=path, reference=reference))
    return frame


def cmd_evaluate(args: argparse.Namespace) -> int:
    from schemas.search_space import TASKS
    from tasks.predict.encode import encode_archs_cached, training_set
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
    # Every task's ranks (a measurements file's scores ranked; NaN where not measured).
    ranks = training_set(frame, features).all_labels().astype(float)
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
