"""Stopping long work when the user asks (Ctrl-C), between blocks, from any thread.

The `ufo` command's interrupt handler calls `request()`; the long loops (the search's
evaluations, the streamed reader, encoding and writing blocks, the latency measurement)
call `check()` between blocks, which raises `Cancelled` once a stop was requested. A
thread in a task runner cannot be interrupted by a signal (only the main thread gets it),
so this flag is how a stop reaches the work. Plain Python: no Prefect, no signals here."""

from __future__ import annotations

import threading

_REQUESTED = threading.Event()


class Cancelled(Exception):
    """The user asked to stop (Ctrl-C); nothing half-written is left behind."""


def request() -> None:
    _REQUESTED.set()


def requested() -> bool:
    return _REQUESTED.is_set()


def reset() -> None:
    """For tests and for a process that runs several commands."""
    _REQUESTED.clear()


def check() -> None:
    if _REQUESTED.is_set():
        raise Cancelled("interrupted")
