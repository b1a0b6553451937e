"""What every `ufo` command shares: the console line writer, the errors a user can fix and
the exit codes they map to, the default predictor."""

from __future__ import annotations

import sys
import threading

from flows import console
from flows.lifetime import PrefectDatabaseError
from schemas.objectives import TaskSpecError
from schemas.search_space import ArchError
from tasks import cancellation, errors
from tasks.predict.predictors import UnknownPredictorError

# Errors a user can fix: reported as one paragraph, no traceback, exit code 2. Anything
# else is a bug: exit code 3, a short message, the traceback in the log file.
USER_ERRORS = (
    errors.InputFileError,
    errors.ParameterError,
    errors.HoldoutError,
    ArchError,
    TaskSpecError,
    UnknownPredictorError,
    errors.OutputError,
    PrefectDatabaseError,
)
# A stop the user asked for (Ctrl-C), wherever it surfaces: exit code 130.
INTERRUPTS = (KeyboardInterrupt, cancellation.Cancelled)
EXIT_INVALID_INPUT, EXIT_USER_ERROR, EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED = 1, 2, 3, 130

_VIEW: console.View | None = None  # the running command's console, if any


def set_view(view: console.View | None) -> None:
    global _VIEW
    _VIEW = view


def emit(text: str) -> None:
    if _VIEW is not None:
        _VIEW.line(text)
        return
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def default_predictor() -> str:
    from tasks.predict.predictors import DEFAULT_PREDICTOR

    return DEFAULT_PREDICTOR


_said_interrupted = threading.Lock()


def say_interrupted() -> None:
    """The one line a Ctrl-C prints, once, whichever path ends the command."""
    if _said_interrupted.acquire(blocking=False):
        sys.stderr.write("ufo: interrupted\n")
