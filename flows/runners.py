"""Task-runner choice: threads (default), a local Dask cluster, or an existing scheduler."""

from __future__ import annotations

# What `ufo run`, `ufo search` and the flows' own defaults use.
DEFAULT_RUNNER = "threads"


def build_task_runner(spec: str):
    """`threads`, `dask` (a local cluster of 2 single-threaded worker processes), or a
    scheduler address such as `tcp://127.0.0.1:8786`."""
    from prefect.task_runners import ThreadPoolTaskRunner

    if spec == "threads":
        return ThreadPoolTaskRunner(max_workers=2)
    # prefect_dask's runner, plus the workers' Prefect settings (flows/workers.py).
    from flows.workers import ReportingDaskTaskRunner

    if spec == "dask":
        return ReportingDaskTaskRunner(
            cluster_kwargs={
                "n_workers": 2,
                "threads_per_worker": 1,
                "processes": True,
                "dashboard_address": "127.0.0.1:0",
            }
        )
    if spec.startswith("tcp://"):
        return ReportingDaskTaskRunner(address=spec)
    from tasks.errors import ParameterError

    raise ParameterError(
        f"task runner {spec!r} is not 'threads', 'dask' or a tcp://host:port scheduler address"
    )
