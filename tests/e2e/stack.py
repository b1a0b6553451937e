"""Helpers for the end-to-end tests: free ports, subprocesses, the Prefect API."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from uuid import UUID

PROJECT_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv running pytest: prefect, ufo, dask live here
FIT_NAMES = tuple(
    f"fit-{t}"
    for t in ("cplfw", "market1501", "dukemtmc", "msmt17", "veri", "vehicleid", "veriwild", "sop")
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    """One Prefect server + serve process (started by `make serve`) and a Dask cluster."""

    root: Path
    port: int
    env: dict[str, str]
    dask_address: str
    processes: list[subprocess.Popen] = field(default_factory=list)
    serve_output: str = ""
    serve_seconds: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api"

    @property
    def data_dir(self) -> Path:
        return Path(self.env["UFO_DATA_DIR"])

    def run(self, *args: str, env: dict | None = None, timeout: float = 300, check: bool = False):
        """Run a command the way a user would, with the stack's environment."""
        done = subprocess.run(
            list(args),
            cwd=PROJECT_ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
        return done

    def deployment_run(self, name: str, *params: str, watch: bool = True, timeout: float = 330):
        """`prefect deployment run NAME --param k=v ... [--watch]`, as a user types it."""
        args = [str(BIN / "prefect"), "deployment", "run", name]
        for param in params:
            args += ["--param", param]
        if watch:
            args += ["--watch", "--watch-interval", "1", "--watch-timeout", str(int(timeout) - 30)]
        return self.run(*args, timeout=timeout)

    def client(self):
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)


def start(args: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """A background process in its own session, so teardown can stop its whole group."""
    handle = log.open("w")
    return subprocess.Popen(
        args,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, timeout: float = 20) -> None:
    if process.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def flow_run_id(cli_output: str) -> UUID:
    """The id `prefect deployment run` prints ("└── UUID: ...")."""
    match = re.search(r"UUID: ([0-9a-f-]{36})", cli_output)
    assert match, f"no flow run id in:\n{cli_output}"
    return UUID(match.group(1))


def wait_for_flow_run(stack: Stack, run_id: UUID, min_run_count: int = 1, timeout: float = 300):
    """Poll until the flow run is final (and has run at least `min_run_count` times)."""
    deadline = time.monotonic() + timeout
    with stack.client() as client:
        while True:
            run = client.read_flow_run(run_id)
            if run.state and run.state.is_final() and run.run_count >= min_run_count:
                return run
            assert time.monotonic() < deadline, (
                f"flow run {run_id} still {run.state} after {timeout}s"
            )
            time.sleep(1)


def task_runs(stack: Stack, run_id: UUID) -> list:
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with stack.client() as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return sorted(runs, key=lambda r: r.expected_start_time)


def latest_states(stack: Stack, run_id: UUID, attempt: int) -> dict[str, str]:
    """Task name -> state name, for the task runs of one flow-run attempt."""
    return {
        r.name: r.state.name for r in task_runs(stack, run_id) if r.flow_run_run_count == attempt
    }


def artifacts(stack: Stack, run_id: UUID) -> dict[str, object]:
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with stack.client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a for a in found if a.key}


def log_text(stack: Stack, run_id: UUID) -> str:
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    logs = []
    with stack.client() as client:
        while True:  # the API returns at most 200 per call
            page = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id])),
                limit=200,
                offset=len(logs),
            )
            logs += page
            if len(page) < 200:
                return "\n".join(log.message for log in logs)


def make_inputs(
    stack: Stack, folder: Path, seed: int, n: int = 200, n_test: int = 300
) -> tuple[Path, Path]:
    """Small synthetic train/test files, written by the project's own CLI."""
    folder.mkdir(parents=True, exist_ok=True)
    train, test = folder / "train.json", folder / "test.json"
    stack.run(
        str(BIN / "ufo"),
        "make-demo",
        "--n",
        str(n),
        "--n-test",
        str(n_test),
        "--seed",
        str(seed),
        "--out",
        str(train),
        "--test-out",
        str(test),
        check=True,
    )
    return train, test


def cli_run(
    stack: Stack, folder: Path, train: Path, test: Path, runner: str = "threads", **params
) -> tuple[Path, UUID]:
    """`ufo run` from a clean slate (own data and result folders) against the stack's API.
    Returns the submission path and the flow run's id."""
    out = folder / f"submission-{runner.replace(':', '_').replace('/', '')}.json"
    env = {
        "UFO_DATA_DIR": str(folder / "data"),
        "UFO_RESULTS_DIR": str(folder / "results"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(folder / "results"),
    }
    args = [
        str(BIN / "ufo"),
        "run",
        "--train",
        str(train),
        "--test",
        str(test),
        "--out",
        str(out),
        "--runner",
        runner,
    ]
    for key, value in params.items():
        args += [f"--{key}", str(value)]
    stack.run(*args, env=env, check=True)
    with stack.client() as client:
        from prefect.client.schemas.sorting import FlowRunSort

        latest = client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=20)
    mine = [r for r in latest if r.parameters.get("out") == str(out)]
    assert mine, f"no flow run wrote {out}"
    return out, mine[0].id
