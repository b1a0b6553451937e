"""Dask workers report to the flow's Prefect server, never to one of their own, or the run
stops before any fit.

A task on a Dask worker records its runs through the Prefect API it is given: the flow's
settings travel with every task (Prefect serialises the settings context, credential
included). Prefect code on a worker outside a task's context sees only the worker's own
settings, and there, with no PREFECT_API_URL, Prefect starts a temporary server of its own:
`get_client()` does unless PREFECT_SERVER_ALLOW_EPHEMERAL_MODE is false, and emitting an
event does even then (Prefect 3.9.1's EventsWorker checks only for an API key). What it
sends there never reaches the flow's server, and the worker keeps that server as long as it
lives. So:

- the worker's environment (README, "Use a Dask cluster") names the server, its credential
  and PREFECT_SERVER_ALLOW_EPHEMERAL_MODE=false: Prefect's own settings, read by every
  Prefect call in the worker, from its start;
- ufo's Dask task runner (`ReportingDaskTaskRunner`) registers `ReportToTheFlowsApi` on the scheduler,
  which sets the same three in every worker, now and started later, from the flow's own
  settings: a worker started without them still reports to the flow's server, and an
  unreachable API is an error there, not a reason to start a server;
- before a run on a `tcp://` scheduler, `check_workers_reach_api` asks every worker to call
  the API's health endpoint with the flow's URL and credential, and stops the run with one
  line naming what the workers need when any of them cannot (a worker that cannot would
  fail every task run after the fits started)."""

from __future__ import annotations

import base64
import os

from distributed.diagnostics.plugin import WorkerPlugin
from prefect_dask import DaskTaskRunner

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


class ReportToTheFlowsApi(WorkerPlugin):
    """Prefect's settings in a worker process: the flow's API URL and credential, ephemeral
    mode off. Registered by name, so each run replaces the last one's; the values stay after
    the run (a later run's tasks bring their own, and ephemeral mode stays off)."""

    name = "ufo-prefect-api"

    def __init__(self, url: str | None, auth: str | None):
        self.environment: dict[str, str | None] = {"PREFECT_SERVER_ALLOW_EPHEMERAL_MODE": "false"}
        if url:  # a flow without one (never ufo's) leaves the worker's own URL alone
            self.environment.update(PREFECT_API_URL=url, PREFECT_API_AUTH_STRING=auth)

    def setup(self, worker) -> None:
        from prefect.context import refresh_global_settings_context

        for variable, value in self.environment.items():
            if value is None:
                os.environ.pop(variable, None)  # a credential the flow's server does not use
            else:
                os.environ[variable] = value
        # Prefect read the environment when it was imported; code outside a task's
        # context sees these only from the refreshed process-wide settings.
        refresh_global_settings_context()


class ReportingDaskTaskRunner(DaskTaskRunner):
    """prefect_dask's task runner that registers `ReportToTheFlowsApi` when it connects to
    the scheduler: in the flow's process, inside the flow run's settings, on the first
    submit."""

    @property
    def client(self):
        # Not in __enter__: a worker enters a copy of the flow's task runner around every
        # task it runs (Prefect's hydrated context), and must not connect to the scheduler.
        connecting = self._client is None  # prefect-dask 0.3.7's lazily made client
        client = super().client
        if connecting:
            from prefect.settings import get_current_settings

            api = get_current_settings().api
            auth = api.auth_string.get_secret_value() if api.auth_string else None
            client.register_plugin(ReportToTheFlowsApi(api.url, auth))
        return client
