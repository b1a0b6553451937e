"""Serve the deployments in deploy/deployments.py until stopped (SIGTERM or Ctrl-C).

Started in the background by `make serve` (deploy/serve.sh). Each triggered flow run
executes in a child process of this one, with the flow object imported at start-up:
restart it (`make stop && make serve`) after changing the code."""

from __future__ import annotations

import asyncio
import logging
import os

from flows.settings import configure_prefect_environment
from tasks.safety.confinement import CONFINED_ENV

logger = logging.getLogger("deploy.serve")


def main() -> None:
    configure_prefect_environment()  # before Prefect is imported: results dir, analytics off
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")  # start triggered runs within ~2 s
    # Every flow run executed from here is confined to the allowed roots (tasks/safety/confinement.py).
    os.environ[CONFINED_ENV] = "1"
    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    from deploy.deployments import served_flows

    handler = logging.StreamHandler()  # Prefect owns the root logger's configuration
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    runner = Runner(
        name="ufo-nas", pause_on_shutdown=True, limit=int(os.environ.get("UFO_SERVE_LIMIT", "2"))
    )
    names = []
    for flow, options in served_flows():
        runner.add_flow(flow, **options)  # registers (or updates) the deployment on the server
        names.append(f"{flow.name}/{options['name']}")
    logger.info(
        "deployments %s are being served; results persist in %s",
        ", ".join(names),
        os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"],
    )
    try:
        asyncio.run(runner.start())
    except (KeyboardInterrupt, TerminationSignal) as signal:
        logger.info("received %s, deployments paused, shutting down", type(signal).__name__)


if __name__ == "__main__":
    main()
