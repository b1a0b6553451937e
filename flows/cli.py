"""The `ufo` command line: run, search, evaluate, validate, make-test, make-demo, predictors."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from flows.settings import configure_prefect_environment, quiet_tracebacks_for
from schemas.costs import DEFAULT_IMAGE_SIZE
from schemas.search_space import ARCH_FIELD, RANK_FIELDS, ArchError
from tasks import io, outputs, paths
from tasks.evaluate import HoldoutError
from tasks.parameters import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVALS,
    DEFAULT_SEARCH_OBJECTIVE,
    DEFAULT_TOP,
    ParameterError,
)

logger = logging.getLogger("ufo")
# Errors a user can fix: reported as one paragraph, no traceback, exit code 2.
USER_ERRORS = (
    io.InputFileError,
    ParameterError,
    HoldoutError,
    ArchError,
    KeyError,
    FileNotFoundError,
    outputs.OutputError,
)


def emit(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _default_predictor() -> str:
    from tasks.predictors import DEFAULT_PREDICTOR

    return DEFAULT_PREDICTOR


def cmd_run(args: argparse.Namespace) -> int:
    from tasks.parameters import check_run_parameters
    from tasks.validate import ValidationFailed

    # Parameters are checked before Prefect starts (the flow checks them again, for
    # deployment runs that do not come through this command).
    run = check_run_parameters(
        args.train, args.test, args.out, args.predictor or _default_predictor(), args.holdout
    )
    from tasks.confinement import REPLACE_HINT_CLI, check_submission_output

    check_submission_output(run.out, run.test, replace_any=args.force, hint=REPLACE_HINT_CLI)
    configure_prefect_environment()
    from flows.lifetime import start_temporary_server_tied_to_us

    start_temporary_server_tied_to_us()  # dies with us, even on kill -9
    from flows.pipeline import ufo_pipeline
    from flows.runners import build_task_runner

    quiet_tracebacks_for((ValidationFailed, *USER_ERRORS))

    pipeline = ufo_pipeline.with_options(task_runner=build_task_runner(args.runner))
    written = pipeline(
        train=args.train,
        test=args.test,
        out=args.out,
        predictor=args.predictor or _default_predictor(),
        holdout=args.holdout,
        seed=args.seed,
        fault=args.fault,
    )
    emit(f"submission written to {written}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from tasks.parameters import check_search_parameters
    from tasks.validate import ValidationFailed

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
    out = Path(search(**options))
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
    from tasks.validate import require_valid, validate_frame

    frame, _ = io.read_competition_file(Path(path))
    require_valid(validate_frame(frame, kind, source=path, reference=reference))
    return frame


def cmd_evaluate(args: argparse.Namespace) -> int:
    from schemas.search_space import TASKS
    from tasks.encode import encode_archs_cached
    from tasks.evaluate import evaluate_predictor, parse_holdout, summarise_taus
    from tasks.predictors import get_predictor_class

    predictor = args.predictor or _default_predictor()
    holdout = parse_holdout(args.holdout)
    if holdout.kind == "none":
        raise HoldoutError("evaluate needs a holdout: last:N or kfold:K")
    encoding = get_predictor_class(predictor).encoding
    frame = _read_valid(args.train, "train")
    features = encode_archs_cached(list(frame[ARCH_FIELD]), encoding, paths.cache_dir()).features
    ranks = frame[list(RANK_FIELDS)].astype(float).to_numpy()
    summary = summarise_taus(
        evaluate_predictor(predictor, features, ranks, holdout, seed=args.seed)
    )
    if args.json:
        emit(
            json.dumps(
                {
                    "predictor": predictor,
                    "holdout": str(holdout),
                    "tau": {t: summary[t] for t in TASKS},
                    "average": summary["average"],
                }
            )
        )
    else:
        emit(f"predictor {predictor}, holdout {holdout}")
        for name, value in summary.items():
            emit(f"  {name:<12} {value:.4f}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from tasks.validate import validate_frame

    reference = None
    if args.kind == "submission":
        if not args.test:
            raise ParameterError("validating a submission needs --test, the test file it answers")
        reference = _read_valid(args.test, "test")
    frame, _ = io.read_competition_file(Path(args.file))
    report = validate_frame(frame, args.kind, source=args.file, reference=reference)
    emit(report.to_text())
    return 0 if report.success else 1


def cmd_make_test(args: argparse.Namespace) -> int:
    from tasks.synthetic import make_test_standin

    train = _read_valid(args.train, "train")
    frame = make_test_standin(list(train[ARCH_FIELD]), args.n, args.seed)
    io.write_competition_file(Path(args.out), io.frame_to_records(frame))
    emit(f"wrote a stand-in test file with {len(frame)} archs to {args.out}")
    return 0


def cmd_make_demo(args: argparse.Namespace) -> int:
    from tasks.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(args.n, args.seed)
    io.write_competition_file(Path(args.out), io.frame_to_records(train))
    test = make_test_standin(list(train[ARCH_FIELD]), args.n_test, args.seed + 1)
    io.write_competition_file(Path(args.test_out), io.frame_to_records(test))
    emit(f"wrote SYNTHETIC demo training file ({len(train)} archs) to {args.out}")
    emit(f"wrote demo test file ({len(test)} archs) to {args.test_out}")
    return 0


def cmd_predictors(args: argparse.Namespace) -> int:
    from tasks.predictors import DEFAULT_PREDICTOR, PREDICTORS

    for name, cls in sorted(PREDICTORS.items()):
        marker = " (default)" if name == DEFAULT_PREDICTOR else ""
        emit(f"{name}{marker}: {cls.description}")
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
    run.add_argument("--seed", type=int, default=0)
    run.add_argument(
        "--force", action="store_true", help="replace --out even if ufo did not write it"
    )
    run.add_argument(
        "--runner", default="threads", help="threads, dask (local cluster) or tcp://HOST:PORT"
    )
    run.add_argument(
        "--fault", help=argparse.SUPPRESS
    )  # testing aid: fail a step once, e.g. fit:vehicleid
    run.set_defaults(handler=cmd_run)

    evaluate = sub.add_parser("evaluate", help="fit and score on a labelled file only")
    evaluate.add_argument("--train", required=True)
    evaluate.add_argument("--predictor")
    evaluate.add_argument("--holdout", default="last:100")
    evaluate.add_argument("--seed", type=int, default=0)
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
    make_test.add_argument("--seed", type=int, default=0)
    make_test.set_defaults(handler=cmd_make_test)

    make_demo = sub.add_parser(
        "make-demo", help="write the SYNTHETIC demo training file and a demo test file"
    )
    make_demo.add_argument("--out", default=str(paths.demo_train_path()))
    make_demo.add_argument("--test-out", default=str(paths.demo_test_path()))
    make_demo.add_argument("--n", type=int, default=500)
    make_demo.add_argument("--n-test", type=int, default=2_000)
    make_demo.add_argument("--seed", type=int, default=0)
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
    search.add_argument("--runner", default="threads", help="threads, dask or tcp://HOST:PORT")
    search.set_defaults(handler=cmd_search)

    predictors = sub.add_parser("predictors", help="list registered predictors")
    predictors.set_defaults(handler=cmd_predictors)
    return parser


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    for name in ("ufo", "tasks", "flows"):  # our INFO lines; libraries stay at WARNING
        logging.getLogger(name).setLevel(logging.INFO)
    args = build_parser().parse_args(argv)
    from tasks.validate import ValidationFailed

    try:
        return args.handler(args)
    except ValidationFailed as failed:
        sys.stderr.write(f"ufo: input rejected, nothing was written.\n{failed.report.to_text()}\n")
        return 1
    except USER_ERRORS as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        sys.stderr.write(f"ufo: {message}\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
