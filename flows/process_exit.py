"""How the `ufo` command ends: a normal exit, without the interpreter's teardown.

`end_process(code)` exits through `sys.exit`, so everything a normal exit does still
happens, in the interpreter's order: threads are shut down and joined (Prefect drains its
log and event queues to the API there; an idle thread pool left open lets its workers
go), then the atexit hooks run, last registered first (the temporary server's stop, for
one). The hook below was registered when this module was imported, before Prefect or any
library that registers hooks, so it runs last of them: it shuts logging down, flushes
stdout and stderr, and ends the process with `os._exit`. What is skipped is only the
teardown after the hooks, the freeing of every module and object one by one: it did
nothing useful and took 2.7 s of a 25 s `ufo run` of 99,500 archs here (bench/README.md,
"Scale").

In a process that never calls `end_process` (tests calling `main`, a library user) the
hook does nothing."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import sys
from typing import NoReturn

_exit_code: int | None = None


def end_process(code: int) -> NoReturn:
    """Exit with `code`: a normal exit up to the atexit hooks, then no teardown."""
    global _exit_code
    _exit_code = code
    sys.exit(code)


def _exit_without_teardown() -> None:
    if _exit_code is None:
        return  # not the `ufo` command's end: the usual exit
    logging.shutdown()  # registered with atexit before this hook, so it would not run
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nobody to tell
            stream.flush()
    os._exit(_exit_code)


atexit.register(_exit_without_teardown)
