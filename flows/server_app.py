"""The temporary Prefect API server's application, for `python -m uvicorn --factory`.

Prefect's documented app factory with the options its own temporary server uses:
`ephemeral=True` runs only the services a short-lived server needs (task-run recording,
events, logs; no scheduler, no UI) and `final=True` lets it skip copying routes."""

from __future__ import annotations


def temporary_server_app():
    from prefect.server.api.server import create_app

    return create_app(ephemeral=True, final=True)
