"""The parameters of a search (`ufo search` and the ufo-search flow), checked before any
work: every problem at once, as for a run. The budget's reachability is checked here, once,
against the cost it refers to (a latency table is read for that).

Legal but suspicious parameters are not refused: `SearchParameters.warnings` says what
is odd (a latency table measured at another image size, more picks asked than the
evaluations can give), for the caller to print."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from schemas.costs import AdditiveCost, n_tokens
from schemas.objectives import TaskSpecError, parse_task_spec
from tasks import paths
from tasks.checks.parameters import ensure_demo_files, predictor_problems
from tasks.errors import ParameterError
from tasks.latency.table import read_latency_table_and_size
from tasks.safety import outputs
from tasks.search.budget import Budget, cost_for, parse_budget, require_reachable
from tasks.search.report import REPORT_FILES

# `ufo search` and the ufo-search flow share these defaults.
DEFAULT_SEARCH_OBJECTIVE = "all"
DEFAULT_BUDGET = "params=60M"
DEFAULT_TOP = 10
DEFAULT_MAX_EVALS = 5_000  # the refined search plateaus by 2,000 (bench/README.md, search)
MIN_MAX_EVALS = 100
# The search keeps every arch it evaluated (to score each once): about 0.5 KB each
# (bench/search_rate.py: +93 MB peak RSS at 200,000 per search), so about 5 GB at the bound.
MAX_MAX_EVALS = 10_000_000
# CPU ms per evaluation of the search step on one core, the default predictor, measured by
# bench/search_rate.py at 200,000 (bench/README.md, "Search step cost"): one task 0.24,
# all 8 tasks 0.41; in between, linear in the number of tasks the objective weighs.
MS_PER_EVALUATION = {1: 0.24, 8: 0.41}
ESTIMATE_ABOVE_SECONDS = 180.0  # "a few minutes": below this no estimate is printed


@dataclass(frozen=True)
class SearchParameters:
    train: Path
    objective: str  # an objective spec (schemas/objectives.py): a task, a group, "all", a list
    budget: Budget
    latency_table: Path | None
    top: int
    predictor: str
    out: Path
    image_size: int
    max_evals: int
    warnings: tuple[str, ...] = ()  # legal but suspicious: printed, not refused


def _objective_problems(task: str) -> list[str]:
    try:
        parse_task_spec(task)
    except TaskSpecError as exc:
        return [str(exc)]
    return []


def _read_budget(budget: str, problems: list[str]) -> Budget | None:
    try:
        return parse_budget(budget)
    except ParameterError as exc:
        problems.append(str(exc))
        return None


def _read_table(table: Path | None, problems: list[str]) -> tuple[AdditiveCost | None, int | None]:
    """The table and the image size it was measured at, or Nones and a problem."""
    if table is None:
        return None, None
    if table.is_dir():
        problems.append(f"latency table {table} is a folder; give the table's JSON file")
        return None, None
    if not table.is_file():
        problems.append(f"latency table {table} does not exist")
        return None, None
    try:
        return read_latency_table_and_size(table)
    except ValueError as exc:  # LatencyFileError: names the file, the entry and the field
        problems.append(str(exc))
        return None, None


def estimated_search_seconds(task: str, max_evals: int) -> float:
    """The search step's time for `max_evals` (two searches of up to max_evals each), from
    the measured rate for the number of tasks the objective weighs (default predictor)."""
    try:
        n_tasks = len(parse_task_spec(task))
    except TaskSpecError:
        n_tasks = 8
    (one, low), (many, high) = sorted(MS_PER_EVALUATION.items())
    ms = low + (high - low) * (min(max(n_tasks, one), many) - one) / (many - one)
    return 2 * max_evals * ms / 1e3


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _warnings(
    table: Path | None,
    measured_at: int | None,
    image_size: int,
    top: object,
    max_evals: object,
    task: str,
) -> tuple[str, ...]:
    warnings = []
    if measured_at is not None and measured_at != image_size:
        warnings.append(
            f"latency table {table} was measured at image size {measured_at}, the search "
            f"uses {image_size}: its latencies are those of {measured_at}px images "
            f"(measure at {image_size} with `ufo measure-latency --image-size {image_size}`)"
        )
    if isinstance(max_evals, int):
        seconds = estimated_search_seconds(task, max_evals)
        if seconds > ESTIMATE_ABOVE_SECONDS:
            warnings.append(
                f"--max-evals {max_evals:,}: the search step alone will take about "
                f"{format_duration(seconds)} (the front and the picks, up to {max_evals:,} "
                "model evaluations each, at the rate bench/search_rate.py measured on one "
                "core); the refined search reached its best by 2,000 in bench/README.md"
            )
    if isinstance(top, int) and isinstance(max_evals, int) and top > max_evals:
        warnings.append(
            f"--top {top} is more than the {max_evals} model evaluations (--max-evals) can "
            f"give: at most {max_evals} picks"
        )
    return tuple(warnings)


def _budget_problems(
    budget: Budget | None, table: Path | None, latency: AdditiveCost | None, image_size: int
) -> list[str]:
    """A latency budget without a table, the image size's problem, an unreachable budget."""
    problems = []
    if budget is not None and budget.metric == "latency" and table is None:
        problems.append(
            f"budget {budget} needs a latency table: --latency-table FILE "
            "(`ufo measure-latency` measures one)"
        )
    try:
        n_tokens(image_size)
    except ValueError as exc:  # also the upper bound, before a cost overflows
        return [*problems, str(exc)]
    if budget is None or problems or (budget.metric == "latency" and latency is None):
        return problems  # nothing to reach, or the table's own problem is reported
    try:
        require_reachable(budget, cost_for(budget.metric, image_size, latency))
    except ParameterError as exc:
        problems.append(str(exc))
    return problems


def _count_problems(top: object, max_evals: object) -> list[str]:
    problems = []
    if not isinstance(top, int) or top < 1:
        problems.append(f"top must be a positive whole number, got {top!r}")
    if not isinstance(max_evals, int) or max_evals < MIN_MAX_EVALS:
        problems.append(
            f"max evaluations must be a whole number >= {MIN_MAX_EVALS}, got {max_evals!r}"
        )
    elif max_evals > MAX_MAX_EVALS:
        problems.append(
            f"max evaluations must be at most {MAX_MAX_EVALS:,}, got {max_evals:,}: the search "
            "keeps every arch it evaluates (about 0.5 KB each, some 5 GB at the limit) and "
            "reached its best by 2,000 in bench/README.md"
        )
    return problems


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
    if train is None:
        ensure_demo_files()
    train_path = Path(train or paths.demo_train_path()).expanduser()
    out_path = Path(out or paths.search_dir()).expanduser()
    table = Path(latency_table).expanduser() if latency_table else None
    problems = [] if train_path.is_file() else [f"train file {train_path} does not exist"]
    problems += _objective_problems(task)
    parsed_budget = _read_budget(budget, problems)
    latency, measured_at = _read_table(table, problems)
    problems += predictor_problems(predictor)
    problems += _count_problems(top, max_evals)
    problems += _budget_problems(parsed_budget, table, latency, image_size)
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
        warnings=_warnings(table, measured_at, image_size, top, max_evals, task),
    )


def check_search_output(
    run: SearchParameters,
    *,
    replace_any: bool,
    hint: str = outputs.REPLACE_HINT_CLI,
    files: tuple[str, ...] = REPORT_FILES,
) -> None:
    """Before any work, after check_search_parameters: the report folder can receive the
    report `files` (the search's; ufo propose's proposals) (writable, room, not a file),
    none of them is the training file or the latency table, and unless `replace_any`
    (--force) each one there is ufo's. Removes what killed report writers left there.
    Raises one ParameterError."""
    outputs.check_report_output(
        run.out,
        files,
        inputs={"train": run.train, "latency table": run.latency_table},
        replace_any=replace_any,
        hint=hint,
    )
