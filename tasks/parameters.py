"""Checks on run parameters, made before any work starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tasks import paths
from tasks.evaluate import Holdout, parse_holdout
from tasks.predictors import PREDICTORS


class ParameterError(ValueError):
    """A run parameter that cannot work (missing file, unknown predictor, bad holdout)."""


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
    if predictor not in PREDICTORS:
        problems.append(
            f"unknown predictor {predictor!r} (registered: {', '.join(sorted(PREDICTORS))})"
        )
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
    """Unset paths fall back to the demo files and the demo submission."""
    return (
        train or str(paths.demo_train_path()),
        test or str(paths.demo_test_path()),
        out or str(paths.demo_submission_path()),
    )
