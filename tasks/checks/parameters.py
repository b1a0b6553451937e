"""Checks on run parameters, made before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks import paths
from tasks.errors import ParameterError
from tasks.files import writing
from tasks.predict.evaluate import Holdout, parse_holdout
from tasks.predict.predictors import PREDICTORS

# The demo files `ufo make-demo` writes by default (and `ensure_demo_files` when missing).
DEMO_TRAIN_SIZE, DEMO_TEST_SIZE, DEMO_SEED = 500, 2_000, 0


def predictor_problems(predictor: str) -> list[str]:
    if predictor in PREDICTORS:
        return []
    return [f"unknown predictor {predictor!r} (registered: {', '.join(sorted(PREDICTORS))})"]


@dataclass(frozen=True)
class RunParameters:
    train: Path
    test: Path
    out: Path
    predictor: str
    holdout: Holdout


def check_run_parameters(
    train: str | Path | None,
    test: str | Path | None,
    out: str | Path | None,
    predictor: str,
    holdout: str,
) -> RunParameters:
    problems = []
    train, test, out = default_paths(train, test, out)
    train_path, test_path, out_path = (
        Path(train).expanduser(),
        Path(test).expanduser(),
        Path(out).expanduser(),
    )
    for label, path in (("train", train_path), ("test", test_path)):
        if not path.is_file():
            problems.append(f"{label} file {path} does not exist")
    problems += predictor_problems(predictor)
    if out_path.exists() and out_path.is_dir():
        problems.append(f"output {out_path} is a directory; give a file path")
    if out_path.resolve() in {train_path.resolve(), test_path.resolve()}:
        problems.append(f"output {out_path} would overwrite an input file")
    parsed = None
    try:
        parsed = parse_holdout(holdout)
    except ValueError as exc:
        problems.append(str(exc))
    if problems:
        raise ParameterError("; ".join(problems))
    return RunParameters(train_path, test_path, out_path, predictor, parsed)


def default_paths(
    train: str | Path | None, test: str | Path | None, out: str | Path | None
) -> tuple[str, str, str]:
    """Unset paths fall back to the demo files (written now if missing: they are
    deterministic, so a first `ufo run` or demo deployment run just works) and the demo
    submission."""
    if train is None or test is None:
        ensure_demo_files()
    return (
        train or str(paths.demo_train_path()),
        test or str(paths.demo_test_path()),
        out or str(paths.demo_submission_path()),
    )


def ensure_demo_files() -> None:
    """Write the default demo files (`ufo make-demo` with its defaults) if either is missing."""
    if paths.demo_train_path().is_file() and paths.demo_test_path().is_file():
        return
    from tasks.predict.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(DEMO_TRAIN_SIZE, DEMO_SEED)
    test = make_test_standin(list(train["arch"]), DEMO_TEST_SIZE, DEMO_SEED + 1)
    writing.write_competition_frame(paths.demo_train_path(), train)
    writing.write_competition_frame(paths.demo_test_path(), test)
