"""What `ufo` shows a person: one line per stage, a progress display for the fits, and the
results as one table at the end. Everything else (Prefect's and the libraries' logs) goes
to a log file whose path is printed, and, for flow runs, to the Prefect API as before.
`--verbose` puts the full logs back on the console.

Stage lines come from structured data only, so the steps need not know about the console:
our steps' log records carry their fields (tasks/events.py), and task-run states come as
fields from Prefect's event stream (flows/task_states.py), from this process or a Dask
worker alike. (Our steps' records from a Dask worker stay there: their "done" lines then
lack the holdout tau and fit time.)"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from flows.task_states import TaskRunState
from schemas.search_space import TASKS
from tasks import paths
from tasks.events import EVENT_ATTR

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s%(run_label)s: %(message)s"
OUR_LOGGERS = ("ufo", "tasks", "flows", "schemas")
SEARCH_PROGRESS_EVERY = 5.0  # seconds between a search's progress lines
_STEP = re.compile(r"^(fit|holdout)-(\w+)$")


def log_dir() -> Path:
    """Where each command's full log goes (UFO_LOG_DIR moves it)."""
    return Path(os.environ.get("UFO_LOG_DIR", paths.data_dir() / "logs"))


def new_log_path(command: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return log_dir() / f"ufo-{command}-{stamp}-{os.getpid()}.log"


class _RunLabel(logging.Filter):
    """Give every record a `run_label`: the Prefect task or flow run it belongs to."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = getattr(record, "task_run_name", None) or getattr(record, "flow_run_name", None)
        record.run_label = f" [{name}]" if name else ""
        return True


@dataclass
class Plan:
    """The steps a command expects, for the progress display: `steps_per_task` finished
    steps complete one task (a fit, plus its holdout when there is one)."""

    tasks: tuple[str, ...] = TASKS
    steps_per_task: int = 1
    label: str = "fits"

    @property
    def total(self) -> int:
        return len(self.tasks) * self.steps_per_task


@dataclass
class View:
    """The console's state, fed by log records from any thread."""

    out: TextIO
    tty: bool
    plan: Plan | None = None
    taus: dict[str, float] = field(default_factory=dict)
    holdout: str = ""
    written: dict = field(default_factory=dict)
    done_steps: int = 0
    task_steps: dict[str, list[str]] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    fit_rows: dict[str, int] = field(default_factory=dict)  # entries each task was fitted on
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _plan_done: threading.Event = field(default_factory=threading.Event)
    _progress: object = None
    _progress_shown: dict = field(default_factory=dict)
    _bar: object = None

    # -- output ------------------------------------------------------------------------
    def line(self, text: str) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.console.print(text, markup=False, highlight=False)
            else:
                self.out.write(text + "\n")
                self.out.flush()

    def _start_progress(self) -> None:
        if self.plan is None or self._progress is not None or not self.tty:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(file=self.out),
            transient=False,
        )
        self._progress.start()
        self._bar = self._progress.add_task(self.plan.label, total=self.plan.total)

    def stop(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None

    # -- records -----------------------------------------------------------------------
    def on_record(self, record: logging.LogRecord) -> None:
        with self._lock:
            payload = getattr(record, EVENT_ATTR, None)
            if payload is not None:
                self._on_event(payload)
                return
            if (
                record.levelno >= logging.WARNING
                and record.name.split(".")[0] in OUR_LOGGERS
                and not record.exc_info  # tracebacks are for the log file
            ):
                self.line(f"warning: {record.getMessage()}")

    def on_task_state(self, state: TaskRunState) -> None:
        """A state a task run entered (flows/task_states.py)."""
        with self._lock:
            if state.is_retry:
                attempt = f"attempt {state.run_count} of {state.retries + 1}"
                self.line(f"  {state.task_run} failed; retrying ({attempt})")
                return
            step = _STEP.match(state.task_run)
            if step and state.is_completed:
                self._step_done(step.group(2), step.group(1), state.name)

    def wait_for_plan(self, timeout: float) -> bool:
        """Wait until every planned step is done (task states arrive a little after the
        flow's return); False if some are still missing after `timeout` seconds."""
        return self._plan_done.wait(timeout) if self.plan is not None else True

    def _on_event(self, payload: dict) -> None:
        kind = payload["kind"]
        if kind == "temporary-server":
            self.line("starting a temporary local Prefect server (PREFECT_API_URL is not set)")
        elif kind == "named":
            self.line(f"flow run {payload['name']}")
        elif kind == "validated":
            what = "checked the submission" if payload["file_kind"] == "submission" else None
            what = what or f"validated {payload['file_kind']} file {payload['source']}"
            self.line(
                f"{what}: {payload['entries']} entries, "
                f"{payload['passed']}/{payload['rules']} rules passed"
            )
        elif kind == "encoded":
            cache = "cache hit" if payload["hit"] else "cache miss, written"
            self.line(f"encoded {payload['archs']} archs ({payload['encoding']}): {cache}")
            self._start_progress()
        elif kind == "holdout":
            self.taus.setdefault(payload["task"], payload["tau"])
        elif kind == "fitted":
            self.fit_seconds[payload["task"]] = payload["seconds"]
            if "rows" in payload:
                self.fit_rows[payload["task"]] = payload["rows"]
        elif kind == "evaluated":  # `ufo evaluate`: all folds of one task
            self.taus[payload["task"]] = payload["tau"]
            self._step_done(payload["task"], "holdout", "Completed")
        elif kind == "taus":
            self.taus, self.holdout = dict(payload["taus"]), payload["holdout"]
        elif kind == "written":
            self.written = dict(payload)
        elif kind == "search-progress":
            self._search_progress(payload)

    def _search_progress(self, payload: dict) -> None:
        """One line per few seconds of a search: evaluations done of the budget, the best
        goodness so far, and the time left at the rate measured so far."""
        done, total, seconds = payload["done"], payload["total"], payload["seconds"]
        last = self._progress_shown.get(payload["label"])
        if last is not None and seconds - last < SEARCH_PROGRESS_EVERY and done < total:
            return
        self._progress_shown[payload["label"]] = seconds
        left = ""
        if done < total and seconds > 0:
            left = f", about {_duration((total - done) * seconds / done)} left"
        self.line(
            f"  search ({payload['label']}): {done:,} of {total:,} evaluations, "
            f"best so far {payload['best']:+.3f}{left}"
        )

    def _advance(self) -> None:
        self.done_steps += 1
        if self.plan is not None and self.done_steps >= self.plan.total:
            self._plan_done.set()
        if self._progress is not None:
            self._progress.update(self._bar, completed=self.done_steps)

    def _step_done(self, task: str, step: str, state: str) -> None:
        if self.plan is None or task not in self.plan.tasks:
            return
        steps = self.task_steps.setdefault(task, [])
        if any(done.split()[0] == step for done in steps):
            return  # told twice (an event stream's replay)
        steps.append(f"{step} {state.lower()}" if state == "Cached" else step)
        self._advance()
        if len(steps) == self.plan.steps_per_task:
            finished = sum(len(s) == self.plan.steps_per_task for s in self.task_steps.values())
            parts = [s for s in steps if s.endswith("cached")]
            if task in self.fit_seconds:
                # the entries used: a measurements file may leave a task out of some
                rows = f" on {self.fit_rows[task]} entries" if task in self.fit_rows else ""
                parts.insert(0, f"fitted{rows} in {self.fit_seconds[task]:.1f} s")
            if task in self.taus:
                parts.insert(0, f"holdout tau {self.taus[task]:.4f}")
            detail = ", ".join(parts)
            text = f"  {task:<11} done ({finished}/{len(self.plan.tasks)})"
            self.line(text + (f": {detail}" if detail else ""))


def _duration(seconds: float) -> str:
    from tasks.search.parameters import format_duration

    return format_duration(seconds)


class _ConsoleHandler(logging.Handler):
    def __init__(self, view: View):
        super().__init__(level=logging.DEBUG)
        self.view = view

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.view.on_record(record)
        except Exception:  # a console problem must not break a run
            self.handleError(record)


def _is_prefect_console(handler: logging.Handler) -> bool:
    return type(handler).__name__ == "PrefectConsoleHandler"


@dataclass
class Session:
    view: View
    log_path: Path
    verbose: bool


@contextmanager
def session(command: str, verbose: bool = False, out: TextIO | None = None) -> Iterator[Session]:
    """Route logging for one command: everything to a new log file, and to the console
    either everything (verbose) or the stage lines. Restores the logging set-up on exit,
    so commands run in-process (tests) do not stack handlers."""
    out = out or sys.stdout
    log_path = new_log_path(command)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    saved_levels = {name: logging.getLogger(name).level for name in OUR_LOGGERS}

    file_handler = logging.FileHandler(log_path, encoding="utf-8", delay=True)
    file_handler.setLevel(logging.INFO)
    file_handler.addFilter(_RunLabel())
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    view = View(out=out, tty=bool(getattr(out, "isatty", lambda: False)()))
    if verbose:
        console: logging.Handler = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.INFO)
        console.addFilter(_RunLabel())
        console.setFormatter(logging.Formatter(LOG_FORMAT))
    else:
        console = _ConsoleHandler(view)
        # Prefect's own console handler (installed if Prefect was imported first) would
        # repeat every record on stderr.
        for handler in saved_handlers:
            if _is_prefect_console(handler):
                root.removeHandler(handler)
    root.addHandler(file_handler)
    root.addHandler(console)
    root.setLevel(logging.WARNING)  # libraries: warnings and errors, to the file
    for name in OUR_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO)
    try:
        yield Session(view=view, log_path=log_path, verbose=verbose)
    finally:
        view.stop()
        for handler in (file_handler, console):
            root.removeHandler(handler)
        file_handler.close()
        for handler in saved_handlers:
            if handler not in root.handlers:
                root.addHandler(handler)
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)


def tau_table(taus: dict[str, float], title: str) -> str:
    """The per-task Kendall tau as one table, the average last."""
    rows = [(task, taus[task]) for task in TASKS if task in taus]
    width = max(len("average"), *(len(t) for t, _ in rows)) if rows else len("average")
    lines = [title, f"  {'task':<{width}}  kendall tau", f"  {'-' * width}  -----------"]
    lines += [f"  {task:<{width}}  {value:>11.4f}" for task, value in rows]
    if "average" in taus:
        lines += [
            f"  {'-' * width}  -----------",
            f"  {'average':<{width}}  {taus['average']:>11.4f}",
        ]
    return "\n".join(lines)
