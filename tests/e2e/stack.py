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
    def auth_file(self) -> Path:
        """The credential `make serve` made (basic auth), as a user reads it."""
        return Path(self.env["PREFECT_HOME"]) / "ufo-auth"

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

        return SyncPrefectClient(self.api_url, auth_string=self.env["PREFECT_API_AUTH_STRING"])


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


def start_dask(
    folder: Path, env: dict[str, str], nworkers: int = 2, wrap=lambda args: args
) -> tuple[str, list[subprocess.Popen]]:
    """A real `dask scheduler` and `dask worker` (`nworkers` single-threaded processes) on
    loopback, logging into `folder`; `wrap` adapts the worker's command line (a mount
    namespace). Returns the scheduler's address and [scheduler, worker] once all are up."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = start(
        [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
         "--no-dashboard"],
        folder / "dask-scheduler.log",
        env,
    )  # fmt: skip
    worker = start(
        wrap(
            [str(BIN / "dask"), "worker", address, "--nworkers", str(nworkers), "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard",
             "--local-directory", str(folder / "dask-worker")]
        ),
        folder / "dask-worker.log",
        env,
    )  # fmt: skip
    from distributed import Client

    try:
        with Client(address, timeout=60) as client:
            client.wait_for_workers(nworkers, timeout=120)
    except BaseException:
        for process in (worker, scheduler):
            stop(process)
        raise
    return address, [scheduler, worker]


def flow_run_id(cli_output: str) -> UUID:
    """The id `prefect deployment run` prints ("└── UUID: ...")."""
    match = re.search(r"UUID: ([0-9a-f-]{36})", cli_output)
    assert match, f"no flow run id in:\n{cli_output}"
    return UUID(match.group(1))


# How long to wait for something the server records after the fact. A flow run reaches a
# final state before the run's process has shipped its last log records (the API log worker
# sends them in batches) and before the server has turned its last task-run events into
# task-run states (task runs are recorded from events in Prefect 3). Reading once right after
# the flow run ends is therefore a race; every such read goes through `wait_for`.
ARRIVAL_TIMEOUT = 60.0


def wait_for(
    read,
    missing,
    what: str,
    timeout: float = ARRIVAL_TIMEOUT,
    interval: float = 0.5,
    clock=time.monotonic,
    sleep=time.sleep,
):
    """The one polling loop of the e2e tests: call `read()` until `missing(value)` returns
    nothing (None or ""), then return that value. `missing` says what is still lacking; on
    timeout the AssertionError names `what`, what was still missing and what was last seen.
    `clock` and `sleep` are the real ones except in its own tests (a fake clock)."""
    started = clock()
    deadline = started + timeout
    reads = 0
    while True:
        seen = read()
        reads += 1
        lacking = missing(seen)
        if not lacking:
            _record_wait(what, reads, clock() - started)
            return seen
        if clock() >= deadline:
            raise AssertionError(
                f"waited {timeout:.0f}s for {what}; still missing: {lacking}\nlast seen:\n{seen}"
            )
        sleep(interval)


def _record_wait(what: str, reads: int, seconds: float) -> None:
    """With E2E_WAIT_STATS=FILE, append one line per wait that needed more than one read:
    how often a read-once would have raced."""
    stats = os.environ.get("E2E_WAIT_STATS")
    if stats and reads > 1:
        with open(stats, "a") as handle:
            handle.write(f"{reads} reads, {seconds:.1f}s: {what}\n")


def _read_flow_run(stack: Stack, run_id: UUID):
    with stack.client() as client:
        return client.read_flow_run(run_id)


def wait_for_flow_run(stack: Stack, run_id: UUID, min_run_count: int = 1, timeout: float = 300):
    """Poll until the flow run is final (and has run at least `min_run_count` times)."""

    def missing(run) -> str:
        if run.state and run.state.is_final() and run.run_count >= min_run_count:
            return ""
        return f"a final state after {min_run_count} run(s); is {run.state}, run {run.run_count}"

    return wait_for(
        lambda: _read_flow_run(stack, run_id), missing, f"flow run {run_id}", timeout=timeout
    )


def _task_runs(stack: Stack, run_id: UUID) -> list:
    """The flow run's task runs as the server has them now (use `wait_for_task_runs`)."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with stack.client() as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
        )
    return sorted(runs, key=lambda r: r.expected_start_time)


class TaskRuns(list):
    """Task runs, printed one per line (name, attempt, state) in timeout reports."""

    def __str__(self) -> str:
        return (
            "\n".join(
                f"  {r.name} (flow attempt {r.flow_run_run_count}): {r.state.name if r.state else None}"
                for r in self
            )
            or "  (no task runs)"
        )


def _named(name: str, expected: str) -> bool:
    """`expected` names a task run: exactly, or with the suffix Prefect gives unnamed task runs
    (assemble-submission-3f2)."""
    return name == expected or name.startswith(expected + "-")


def wait_for_task_runs(
    stack: Stack,
    run_id: UUID,
    final: tuple[str, ...] | list[str],
    attempt: int | None = None,
    timeout: float = ARRIVAL_TIMEOUT,
) -> TaskRuns:
    """Poll until every task run named in `final` (see `_named`) is there and in a final state,
    in flow-run attempt `attempt` (any attempt if None); return that attempt's task runs."""

    def read() -> TaskRuns:
        return TaskRuns(
            r
            for r in _task_runs(stack, run_id)
            if attempt is None or r.flow_run_run_count == attempt
        )

    def missing(runs: TaskRuns) -> str:
        lacking = []
        for expected in final:
            mine = [r for r in runs if _named(r.name, expected)]
            if not mine:
                lacking.append(f"{expected} (absent)")
            elif not all(r.state and r.state.is_final() for r in mine):
                # A task run can be recorded before its first state arrives.
                states = (r.state.name if r.state else "no state yet" for r in mine)
                lacking.append(f"{expected} ({', '.join(states)})")
        return ", ".join(lacking)

    where = f"flow run {run_id}" + (f" attempt {attempt}" if attempt is not None else "")
    return wait_for(read, missing, f"final task runs of {where}", timeout=timeout)


def wait_for_states(
    stack: Stack,
    run_id: UUID,
    attempt: int,
    final: tuple[str, ...] | list[str],
    timeout: float = ARRIVAL_TIMEOUT,
) -> dict[str, str]:
    """Task name -> state name for one flow-run attempt, once the task runs in `final` are
    final (see `wait_for_task_runs`)."""
    runs = wait_for_task_runs(stack, run_id, final, attempt=attempt, timeout=timeout)
    return {r.name: (r.state.name if r.state else None) for r in runs}


def _artifacts(stack: Stack, run_id: UUID) -> dict[str, object]:
    """The flow run's keyed artifacts as the server has them now (use `wait_for_artifacts`)."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with stack.client() as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        )
    return {a.key: a for a in found if a.key}


def wait_for_artifacts(
    stack: Stack, run_id: UUID, keys: set[str] | tuple[str, ...], timeout: float = ARRIVAL_TIMEOUT
) -> dict[str, object]:
    """Poll until the flow run has an artifact for each of `keys`; return key -> artifact."""
    return wait_for(
        lambda: _artifacts(stack, run_id),
        lambda found: ", ".join(sorted(set(keys) - set(found))),
        f"artifacts of flow run {run_id}",
        timeout=timeout,
    )


def _log_text(stack: Stack, run_id: UUID) -> str:
    """The flow run's log messages as the server has them now (use `wait_for_logs`)."""
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


def wait_for_logs(
    stack: Stack,
    run_id: UUID,
    contains: tuple[str, ...] | list[str] = (),
    any_of: tuple[str, ...] | list[str] = (),
    timeout: float = ARRIVAL_TIMEOUT,
) -> str:
    """Poll until the flow run's logs contain every string in `contains` and, if `any_of` is
    given, at least one of those; return the log text."""

    def missing(text: str) -> str:
        lacking = [repr(s) for s in contains if s not in text]
        if any_of and not any(s in text for s in any_of):
            lacking.append("one of " + ", ".join(map(repr, any_of)))
        return ", ".join(lacking)

    return wait_for(
        lambda: _log_text(stack, run_id), missing, f"logs of flow run {run_id}", timeout=timeout
    )


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
