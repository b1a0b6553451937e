"""One real stack for all end-to-end tests: a Dask scheduler and workers on loopback, then
`make serve` (Prefect server + served deployments) on a free port with PREFECT_HOME and the
project data folder in tmp; teardown runs `make stop` and checks nothing is left running."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.stack import (
    BIN,
    PROJECT_ROOT,
    Stack,
    flow_run_id,
    free_port,
    start_dask,
    stop,
    wait_for_flow_run,
)


def _base_env(root) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "UFO_"))}
    data = root / "data"
    return {
        **env,
        "PREFECT_HOME": str(root / "prefect-home"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "UFO_DATA_DIR": str(data),
        # Deployment runs may use the whole pytest temp folder (the tests' inputs and outputs).
        "UFO_ALLOWED_ROOTS": str(root.parent),
        "UFO_RESULTS_DIR": str(data / "prefect-results"),
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(data / "prefect-results"),
        "PREFECT_LOGGING_EXTRA_LOGGERS": "tasks",
        # A fit holds a worker's GIL for long stretches; on a loaded 2-core machine its
        # event loop then missed Dask's 30 s comm timeout and the scheduler dropped it
        # mid-run. Scheduler, workers and the flow's client all read these.
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__TCP": "300s",
        "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "120s",
    }


def hidden_from_workers(basetemp) -> list[str]:
    """Folders the Dask workers must not see: every input, cache and result of the tests
    (all under pytest's base temp folder and the unit tests' session folder) and the
    project's own data/ folder. Workers share the scheduler with the flow, not a disk."""
    session = Path(os.environ["UFO_DATA_DIR"]).parent  # tests/conftest.py's session folder
    return [str(basetemp), str(session), str(PROJECT_ROOT / "data")]


def without_shared_disk(args: list[str], hidden: list[str]) -> list[str]:
    """Run `args` in a mount namespace of its own where each hidden folder is an empty
    tmpfs. As root `unshare --mount` suffices; otherwise a user namespace maps us to root."""
    unshare = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        unshare[1:1] = ["--user", "--map-root-user"]
    mounts = " && ".join(f'mount -t tmpfs tmpfs "${i + 1}"' for i in range(len(hidden)))
    script = f'{mounts} && shift {len(hidden)} && exec "$@"'
    return [*unshare, "sh", "-c", script, "sh", *hidden, *args]


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    root = tmp_path_factory.mktemp("e2e")
    env = _base_env(root)
    processes: list[subprocess.Popen] = []
    make_env = {**env, "UFO_RUN_DIR": str(root / "run"), "UFO_PYTHON": str(BIN / "python")}
    try:
        # The workers' local directory is inside a hidden folder: their own tmpfs.
        hidden = hidden_from_workers(root.parent)
        address, processes = start_dask(root, env, wrap=lambda a: without_shared_disk(a, hidden))
        port = free_port()  # after Dask has taken its ports
        make_env.update(
            UFO_DASK_ADDRESS=address,
            UFO_PREFECT_PORT=str(port),
            PREFECT_API_URL=f"http://127.0.0.1:{port}/api",
        )
        the_stack = Stack(
            root=root, port=port, env=make_env, dask_address=address, processes=processes
        )
        the_stack.run(str(BIN / "ufo"), "make-demo", "--n", "200", "--n-test", "300", check=True)
        started = time.monotonic()
        served = subprocess.run(
            ["make", "serve"],
            cwd=PROJECT_ROOT,
            env=make_env,
            capture_output=True,
            text=True,
            timeout=400,
        )
        assert served.returncode == 0, f"make serve failed:\n{served.stdout}\n{served.stderr}"
        the_stack.serve_output = served.stdout
        # As the README says: send the credential make serve made with every API call.
        make_env["PREFECT_API_AUTH_STRING"] = the_stack.auth_file.read_text().strip()
        the_stack.serve_seconds = time.monotonic() - started
        yield the_stack
    finally:
        stopped = subprocess.run(
            ["make", "stop"],
            cwd=PROJECT_ROOT,
            env=make_env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        leftovers = []
        for pid_file in (root / "run").glob("*.pid"):  # make stop removes them; kill any it missed
            leftovers.append(pid_file.name)
            try:
                os.killpg(int(pid_file.read_text()), 9)
            except (ProcessLookupError, ValueError):
                pass
        for process in processes:
            stop(process)
        if "PREFECT_API_URL" in make_env:
            with pytest.raises(OSError):  # the server is gone
                urllib.request.urlopen(make_env["PREFECT_API_URL"] + "/health", timeout=2)
        assert stopped.returncode == 0 and not leftovers, (
            f"make stop left {leftovers}:\n{stopped.stdout}\n{stopped.stderr}"
        )


@pytest.fixture(scope="session")
def demo_run(stack):
    """The README's first trigger: the demo deployment with its defaults, watched to the end."""
    started = time.monotonic()
    done = stack.deployment_run("ufo-pipeline/demo")
    run_id = flow_run_id(done.stdout)
    run = wait_for_flow_run(stack, run_id)
    return done, run, time.monotonic() - started
