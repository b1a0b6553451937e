"""Processes `ufo` starts die with it.

In ephemeral mode (no PREFECT_API_URL) Prefect starts a temporary API server, a uvicorn
subprocess, and stops it only from an atexit hook: a `ufo run` killed with SIGKILL or
SIGTERM (no atexit then) would leave it listening forever. So the CLI starts that server
itself, from the main thread, with PR_SET_PDEATHSIG: the kernel sends it SIGTERM the moment
its parent dies, however the parent dies. (Dask's local worker processes already exit when
their parent's pipe closes.)"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with(parent: int) -> None:
    """preexec_fn: runs in the child between fork and exec."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class PrefectDatabaseError(RuntimeError):
    """The local Prefect database cannot be opened (a user's environment, not a bug)."""


def _sqlite_path(url: str) -> Path | None:
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            return Path(url[len(prefix) :].split("?", 1)[0])
    return None


def check_local_database() -> None:
    """A damaged SQLite database makes the temporary server fail to start, which Prefect
    reports only after its start-up timeout, with thousands of traceback lines: check it
    first, in well under a second."""
    from prefect.settings import get_current_settings

    url = get_current_settings().server.database.connection_url
    path = _sqlite_path(url.get_secret_value() if url is not None else "")
    if path is None or not path.is_file() or path.stat().st_size == 0:
        return  # another database, or a new one Prefect will create
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            verdict = db.execute("PRAGMA quick_check(1)").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        verdict = str(exc)
    if verdict != "ok":
        raise PrefectDatabaseError(
            f"the Prefect database {path} is damaged ({verdict}); move it away (Prefect then "
            "starts a new, empty one) or set PREFECT_HOME to another folder"
        )


def start_temporary_server_tied_to_us() -> str:
    """Start Prefect's temporary server now, dying with this process, and return the API
    URL the run reports to: the user's PREFECT_API_URL when set (then no server starts),
    else the temporary server's own (on 127.0.0.1)."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return PREFECT_API_URL.value()
    # PDEATHSIG fires when the *thread* that forked the child ends: only the main thread
    # lives as long as the process.
    assert threading.current_thread() is threading.main_thread()
    check_local_database()  # before importing the server (seconds on a loaded machine)
    from prefect.server.api import server as server_module

    server = server_module.SubprocessASGIServer()  # the instance Prefect's clients use
    if server.running:
        return server.api_url
    launch = server._run_uvicorn_command

    def launch_tied() -> subprocess.Popen:
        real_popen = subprocess.Popen
        parent = os.getpid()

        def popen(*args, **kwargs):
            kwargs["preexec_fn"] = lambda: _die_with(parent)
            # Its own session: a terminal's Ctrl-C goes to `ufo` alone, which stops the
            # server itself (atexit, or PDEATHSIG on a hard exit) instead of the server
            # printing its own shutdown tracebacks into our output.
            kwargs["start_new_session"] = True
            return real_popen(*args, **kwargs)

        subprocess.Popen = popen  # only for this one call, on the main thread
        try:
            return launch()
        finally:
            subprocess.Popen = real_popen

    server._run_uvicorn_command = launch_tied
    server.start()
    return server.api_url
