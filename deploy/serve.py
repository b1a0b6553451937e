"""Serve the deployments in deploy/deployments.py until stopped (SIGTERM or Ctrl-C).

Started in the background by `make serve` (deploy/serve.sh); runs each triggered flow
run in a child process. Restart it after code changes: it serves the flow it imported."""

from __future__ import annotations

import logging
import os

from flows.settings import configure_prefect_environment

logger = logging.getLogger("deploy.serve")


def main() -> None:
    configure_prefect_environment()  # before Prefect is imported: results dir, analytics off
    os.environ.setdefault("PREFECT_RUNNER_POLL_FREQUENCY", "2")  # start triggered runs within ~2 s
    from prefect import serve

    from deploy.deployments import build_deployments

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    deployments = build_deployments()
    logger.info(
        "serving %s; results in %s",
        ", ".join(f"ufo-pipeline/{d.name}" for d in deployments),
        os.environ["PREFECT_RESULTS_LOCAL_STORAGE_PATH"],
    )
    serve(*deployments, limit=int(os.environ.get("UFO_SERVE_LIMIT", "2")))


if __name__ == "__main__":
    main()
