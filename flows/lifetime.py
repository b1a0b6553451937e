"""Processes `ufo` starts die with it.

In ephemeral mode (no PREFECT_API_URL) Prefect starts a temporary API server, a uvicorn
subprocess, and stops it only from an atexit hook: a `ufo run` killed with SIGKILL or
SIGTERM (no atexit then) would leave it listening forever. So the CLI starts that server
itself, from the main thread, with PR_SET_PDEATHSIG: the kernel sends it SIGTERM the moment
its parent dies, however the parent dies. (Dask's local worker processes already exit when
their parent's pipe closes.)"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import threading

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _die_with(parent: int) -> None:
    """preexec_fn: runs in the child between fork and exec."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def start_temporary_server_tied_to_us() -> None:
    """Start Prefect's temporary server now, dying with this process; a no-op when the
    user points PREFECT_API_URL at a server."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return
    # PDEATHSIG fires when the *thread* that forked the child ends: only the main thread
    # lives as long as the process.
    assert threading.current_thread() is threading.main_thread()
    from prefect.server.api import server as server_module

    server = server_module.SubprocessASGIServer()  # the instance Prefect's clients use
    if server.running:
        return
    launch = server._run_uvicorn_command

    def launch_tied() -> subprocess.Popen:
        real_popen = subprocess.Popen
        parent = os.getpid()

        def popen(*args, **kwargs):
            kwargs["preexec_fn"] = lambda: _die_with(parent)
            return real_popen(*args, **kwargs)

        subprocess.Popen = popen  # only for this one call, on the main thread
        try:
            return launch()
        finally:
            subprocess.Popen = real_popen

    server._run_uvicorn_command = launch_tied
    server.start()
