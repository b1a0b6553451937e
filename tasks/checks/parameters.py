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


def _predictor_problems(predictor: str) -> list[str]:
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
    problems += _predictor_problems(predictor)
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


# `ufo search` and the ufo-search flow share these defaults.
DEFAULT_SEARCH_OBJECTIVE = "all"
DEFAULT_BUDGET = "params=60M"
DEFAULT_TOP = 10
DEFAULT_MAX_EVALS = 5_000  # the refined search plateaus by 2,000 (bench/README.md, search)


@dataclass(frozen=True)
class SearchParameters:
    train: Path
    objective: str  # a task name, or "all": the eight tasks' standardised mean
    budget: object  # tasks.search.budget.Budget
    latency_table: Path | None
    top: int
    predictor: str
    out: Path
    image_size: int
    max_evals: int


def check_search_parameters(
    train: str | Path | None,
    task: str,
    budget: str,
    latency_table: str | Path | None,
    top: int,
    predictor: str,
    out: str | Path | None,
    image_size: int,
    max_evals: int,
) -> SearchParameters:
    """Every problem at once, as for a run; the budget is parsed but its reachability is
    checked by the search, which knows the cost (a latency table has to be read first)."""
    from schemas.costs import n_tokens
    from schemas.search_space import TASKS
    from tasks.search.budget import cost_for, parse_budget, require_reachable

    problems = []
    if train is None:
        ensure_demo_files()
    train_path = Path(train or paths.demo_train_path()).expanduser()
    out_path = Path(out or paths.search_dir()).expanduser()
    if not train_path.is_file():
        problems.append(f"train file {train_path} does not exist")
    if task != "all" and task not in TASKS:
        problems.append(f"unknown task {task!r}: use one of {', '.join(TASKS)} or 'all'")
    parsed_budget = None
    try:
        parsed_budget = parse_budget(budget)
    except ParameterError as exc:
        problems.append(str(exc))
    table = Path(latency_table).expanduser() if latency_table else None
    latency = None
    if table is not None and not table.is_file():
        problems.append(f"latency table {table} does not exist")
    elif table is not None:
        from tasks.latency.table import read_latency_table

        try:
            latency = read_latency_table(table)
        except ValueError as exc:  # LatencyFileError: names the file, the entry and the field
            problems.append(str(exc))
    if parsed_budget is not None and parsed_budget.metric == "latency" and table is None:
        problems.append(
            f"budget {parsed_budget} needs a latency table: --latency-table FILE "
            "(`ufo measure-latency` measures one)"
        )
    problems += _predictor_problems(predictor)
    if not isinstance(top, int) or top < 1:
        problems.append(f"top must be a positive whole number, got {top!r}")
    if not isinstance(max_evals, int) or max_evals < 100:
        problems.append(f"max evaluations must be a whole number >= 100, got {max_evals!r}")
    try:
        n_tokens(image_size)
    except ValueError as exc:
        problems.append(str(exc))
    else:
        if parsed_budget is not None and (parsed_budget.metric != "latency" or latency):
            try:
                require_reachable(
                    parsed_budget, cost_for(parsed_budget.metric, image_size, latency)
                )
            except ParameterError as exc:
                problems.append(str(exc))
    if out_path.exists() and not out_path.is_dir():
        problems.append(f"output {out_path} is a file; give a folder for the search report")
    if problems:
        raise ParameterError("; ".join(problems))
    return SearchParameters(
        train=train_path,
        objective=task,
        budget=parsed_budget,
        latency_table=table,
        top=top,
        predictor=predictor,
        out=out_path,
        image_size=image_size,
        max_evals=max_evals,
    )
