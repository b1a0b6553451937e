"""Before a run on a Dask scheduler, every worker must reach the flow's Prefect API: a real
local cluster probes a real HTTP server that asks for basic auth, as the local server does.
ufo's Dask task runner gives worker processes the flow's API, with ephemeral mode off."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from flows.workers import check_workers_reach_api
from tasks.errors import ParameterError

CREDENTIAL = "ufo:s3cret"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        expected = "Basic " + base64.b64encode(CREDENTIAL.encode()).decode()
        ok = self.path == "/api/health" and self.headers.get("Authorization") == expected
        self.send_response(200 if ok else 401)
        self.end_headers()

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture(scope="module")
def api_url():
    server = HTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/api"
    server.shutdown()


@pytest.fixture(scope="module")
def scheduler():
    from distributed import LocalCluster

    with LocalCluster(  # tcp://, as `ufo run --runner` takes
        n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", host="127.0.0.1",
        dashboard_address=None,
    ) as cluster:  # fmt: skip
        yield cluster.scheduler_address


def test_workers_that_reach_the_api_with_the_credential_pass(scheduler, api_url):
    assert check_workers_reach_api(scheduler, api_url, CREDENTIAL) == 2


def test_a_wrong_credential_stops_the_run_naming_what_workers_need(scheduler, api_url):
    with pytest.raises(ParameterError, match="2 of 2 Dask workers cannot reach") as error:
        check_workers_reach_api(scheduler, api_url, "ufo:wrong")
    assert "HTTP 401" in str(error.value) and "PREFECT_API_AUTH_STRING" in str(error.value)


def _names_what_workers_need(message: str) -> bool:
    return "\n" not in message and all(
        need in message
        for need in (
            "a Prefect server they can reach",
            "PREFECT_API_URL",
            "PREFECT_API_AUTH_STRING",
        )
    )


def test_an_unreachable_api_stops_the_run_in_one_line_naming_what_workers_need(scheduler):
    with pytest.raises(
        ParameterError, match="cannot reach the Prefect API at http://127.0.0.1:9"
    ) as error:
        check_workers_reach_api(scheduler, "http://127.0.0.1:9/api", None)
    assert _names_what_workers_need(str(error.value)), error.value


def test_ufo_run_on_workers_that_cannot_reach_the_api_stops_before_any_fit(
    scheduler, tmp_path, capsys
):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.cli import main
    from tasks.files.writing import frame_to_records, write_competition_file
    from tasks.predict.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(60, seed=3)
    write_competition_file(tmp_path / "train.json", frame_to_records(train))
    test = make_test_standin(list(train["arch"]), 40, seed=4)
    write_competition_file(tmp_path / "test.json", frame_to_records(test))
    out = tmp_path / "submission.json"
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}):
        code = main(
            ["run", "--train", str(tmp_path / "train.json"), "--test", str(tmp_path / "test.json"),
             "--out", str(out), "--runner", scheduler]
        )  # fmt: skip
    error = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert error.startswith("ufo: 2 of 2 Dask workers cannot reach the Prefect API at")
    assert _names_what_workers_need(error.rstrip("\n")), error


def test_no_api_url_stops_the_run_before_asking_the_workers():
    with pytest.raises(ParameterError, match="listens on 127.0.0.1 of this machine only"):
        check_workers_reach_api("tcp://127.0.0.1:1", None, None)


def test_the_dask_runner_gives_worker_processes_the_flows_api_and_no_ephemeral_mode(monkeypatch):
    """What Prefect code outside a task sees in a worker process (tasks bring their own
    settings): the API of the flow whose runner connected last, its credential or none."""
    from distributed import Client, LocalCluster
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from flows.runners import build_task_runner

    def worker_settings():
        from prefect.settings import get_current_settings

        settings = get_current_settings()
        auth = settings.api.auth_string
        return (
            settings.api.url,
            auth.get_secret_value() if auth else None,
            settings.server.ephemeral.enabled,
        )

    # A worker started with a stale credential and ephemeral mode on.
    monkeypatch.setenv("PREFECT_API_AUTH_STRING", "ufo:stale")
    monkeypatch.setenv("PREFECT_SERVER_ALLOW_EPHEMERAL_MODE", "true")
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with (
        LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        assert list(client.run(worker_settings).values()) == [(None, "ufo:stale", True)]
        for url, auth in (
            ("http://127.0.0.1:4301/api", CREDENTIAL),
            ("http://127.0.0.1:4302/api", None),
        ):
            with (
                temporary_settings(updates={PREFECT_API_URL: url, PREFECT_API_AUTH_STRING: auth}),
                build_task_runner(cluster.scheduler_address) as runner,
            ):
                assert runner.client.status == "running"  # connected, as on the first submit
            assert list(client.run(worker_settings).values()) == [(url, auth, False)]
