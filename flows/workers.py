"""Dask workers report to the flow's Prefect server, or the run stops before any fit.

A task on a Dask worker records its runs through the Prefect API it is given: the flow's
settings travel with every task (Prefect serialises the settings context, credential
included), so a worker needs no PREFECT_API_URL of its own, but it must be able to reach
that URL. A worker that cannot would fail every task run after the fits started; a worker
given no URL at all would start a temporary server of its own and record the runs there.
So before the flow starts, `check_workers_reach_api` asks every worker of the scheduler to
call the API's health endpoint with the flow's URL and credential, and stops the run with
one line naming what the workers need when any of them cannot."""

from __future__ import annotations

import base64

from tasks.errors import ParameterError

PROBE_SECONDS = 5.0
WORKER_NEEDS = (
    "a Prefect server they can reach: start one with `make serve` (or `prefect server start "
    "--host 0.0.0.0` for workers on other machines) and set PREFECT_API_URL (and "
    "PREFECT_API_AUTH_STRING, when the server asks for credentials) before `ufo`"
)


def _reach(url: str, auth: str | None) -> str:
    """On a worker: '' when the API answers its health check, else what went wrong."""
    import httpx

    headers = {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode()
    try:
        answer = httpx.get(f"{url.rstrip('/')}/health", headers=headers, timeout=PROBE_SECONDS)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    return "" if answer.status_code == 200 else f"HTTP {answer.status_code}"


def check_workers_reach_api(address: str, url: str | None, auth: str | None) -> int:
    """Every worker of the scheduler at `address` reaches the API at `url`; returns how many
    workers were checked. ParameterError (one line) otherwise, or when there is no URL."""
    if not url:
        raise ParameterError(
            f"the Dask workers at {address} need {WORKER_NEEDS}; without PREFECT_API_URL, "
            "ufo's own temporary server listens on 127.0.0.1 of this machine only"
        )
    from distributed import Client

    try:
        with Client(address, timeout=PROBE_SECONDS * 2) as client:
            answers = client.run(_reach, url, auth)
    except OSError as exc:
        raise ParameterError(f"no Dask scheduler answers at {address} ({exc})") from None
    if not answers:
        raise ParameterError(f"the Dask scheduler at {address} has no workers")
    failing = {worker: why for worker, why in answers.items() if why}
    if failing:
        worker, why = next(iter(failing.items()))
        raise ParameterError(
            f"{len(failing)} of {len(answers)} Dask workers cannot reach the Prefect API at {url} "
            f"({worker}: {why}); they need {WORKER_NEEDS}"
        )
    return len(answers)
