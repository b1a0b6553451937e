"""Before a run on a Dask scheduler, every worker must reach the flow's Prefect API: a real
local cluster probes a real HTTP server that asks for basic auth, as the local server does."""

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

    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_workers_that_reach_the_api_with_the_credential_pass(scheduler, api_url):
    assert check_workers_reach_api(scheduler, api_url, CREDENTIAL) == 2


def test_a_wrong_credential_stops_the_run_naming_what_workers_need(scheduler, api_url):
    with pytest.raises(ParameterError, match="2 of 2 Dask workers cannot reach") as error:
        check_workers_reach_api(scheduler, api_url, "ufo:wrong")
    assert "HTTP 401" in str(error.value) and "PREFECT_API_AUTH_STRING" in str(error.value)


def test_an_unreachable_api_stops_the_run(scheduler):
    with pytest.raises(ParameterError, match="cannot reach the Prefect API at http://127.0.0.1:9"):
        check_workers_reach_api(scheduler, "http://127.0.0.1:9/api", None)


def test_no_api_url_stops_the_run_before_asking_the_workers():
    with pytest.raises(ParameterError, match="listens on 127.0.0.1 of this machine only"):
        check_workers_reach_api("tcp://127.0.0.1:1", None, None)
