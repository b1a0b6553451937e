"""Processes `ufo` starts die with it.

Without PREFECT_API_URL a flow needs a temporary API server. Prefect's own (ephemeral
mode) stops only from an atexit hook, so a `ufo run` killed with SIGKILL or SIGTERM (no
atexit then) would leave it listening forever. So the CLI starts that server itself: the
same application (flows/server_app.py, Prefect's `create_app` in ephemeral mode) under
uvicorn, as a child process with PR_SET_PDEATHSIG, so that the kernel kills it the moment
its parent dies, however the parent dies. PREFECT_API_URL then points at it,
for this process, its threads and the processes it starts (Dask's local workers, which
already exit when their parent's pipe closes)."""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import ctypes.util
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tasks.events import event

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
# uvicorn's exit code when it cannot bind its port (or its start-up fails).
_UVICORN_STARTUP_FAILURE = 3
_PORT_ATTEMPTS = 3
logger = logging.getLogger("flows.lifetime")


def _die_with(parent: int) -> None:
    """preexec_fn: runs in the child between fork and exec.

    SIGKILL, not SIGTERM: uvicorn defers a SIGTERM that arrives during its start-up until
    the start-up is done, and then shuts down gracefully (Prefect's services drain their
    queues); on a loaded machine both took more than a minute, so a parent killed early
    left the server behind (CI, tests/flows/test_lifetime.py). A parent that died hard has
    nobody left to serve, and SQLite's journal keeps the database whole through a kill;
    a normal exit still stops the server gracefully (`TemporaryServer.stop`, atexit)."""
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class PrefectDatabaseError(RuntimeError):
    """The local Prefect database cannot be opened (a user's environment, not a bug)."""


class TemporaryServerError(RuntimeError):
    """The temporary Prefect server did not start."""


def _sqlite_path(url: str) -> Path | None:
    for prefix in ("sqlite+aiosqlite:///", "sqlite:///"):
        if url.startswith(prefix):
            return Path(url[len(prefix) :].split("?", 1)[0])
    return None


def check_local_database() -> None:
    """A damaged SQLite database makes the temporary server fail to start, which would
    show only after its start-up timeout, with thousands of traceback lines: check it
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


def _free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class TemporaryServer:
    """A running temporary API server, a child process of this one."""

    process: subprocess.Popen
    port: int

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api"

    @classmethod
    def launch(cls, port: int) -> TemporaryServer:
        from prefect.settings import get_current_settings

        env = {
            **os.environ,
            # What this process's settings say (a profile's values too), as Prefect
            # passes them to its own temporary server.
            **get_current_settings().to_environment_variables(exclude_unset=True),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_UI_ENABLED": "false",
        }
        env.pop("PREFECT_API_URL", None)
        parent = os.getpid()
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "flows.server_app:temporary_server_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on",
        ]  # fmt: skip
        process = subprocess.Popen(
            command,
            env=env,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _die_with(parent),
            # Its own session: a terminal's Ctrl-C goes to `ufo` alone, which stops the
            # server itself (atexit, or PDEATHSIG on a hard exit) instead of the server
            # printing its own shutdown tracebacks into our output.
            start_new_session=True,
        )
        return cls(process=process, port=port)

    def wait_ready(self, timeout: float) -> None:
        """Return once /api/health answers; raise if the server exits or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise TemporaryServerError(
                    f"the temporary Prefect server exited with code {self.process.returncode}"
                    " before it was ready (its messages are above)"
                )
            try:
                with urllib.request.urlopen(f"{self.api_url}/health", timeout=2) as reply:
                    if reply.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        self.stop()
        raise TemporaryServerError(
            f"the temporary Prefect server did not answer within {timeout:.0f} s "
            "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS)"
        )

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it has not stopped within 5 s."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_temporary_server_tied_to_us() -> TemporaryServer | None:
    """Start a temporary Prefect server that dies with this process, wait until it answers,
    and point PREFECT_API_URL at it; a no-op (None) when the user points PREFECT_API_URL at
    a server. It is stopped at exit."""
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    settings = get_current_settings()
    if settings.api.url:
        return None
    # PDEATHSIG fires when the *thread* that forked the child ends: only the main thread
    # lives as long as the process.
    assert threading.current_thread() is threading.main_thread()
    check_local_database()
    timeout = settings.server.ephemeral.startup_timeout_seconds
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        server = TemporaryServer.launch(_free_port())
        logger.info(
            "starting a temporary Prefect server at %s",
            server.api_url,
            extra=event("temporary-server", url=server.api_url),
        )
        atexit.register(server.stop)
        try:
            server.wait_ready(timeout)
            break
        except TemporaryServerError:
            # Another process took the port between our check and uvicorn's bind.
            if server.process.returncode != _UVICORN_STARTUP_FAILURE or attempt == _PORT_ATTEMPTS:
                raise
    # Clients made from now on, in any thread, and the processes this one starts.
    os.environ["PREFECT_API_URL"] = server.api_url
    refresh_global_settings_context()
    return server
