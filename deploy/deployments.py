"""The project's deployments of flow `ufo-pipeline`, declared in one table.

Each row overrides some of the flow's parameter defaults and picks a task runner.
Values that are callables are resolved when the deployments are served, so
UFO_DATA_DIR (tasks/paths.py) and UFO_DASK_ADDRESS are read at `make serve` time."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tasks import paths


def dask_runner() -> str:
    """An existing Dask scheduler (UFO_DASK_ADDRESS=tcp://host:port) or else a local cluster."""
    return os.environ.get("UFO_DASK_ADDRESS") or "dask"


@dataclass(frozen=True)
class DeploymentRow:
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    runner: str | Callable[[], str] = "threads"
    tags: tuple[str, ...] = ()


# name -> parameter overrides on top of the flow defaults (train/test/out None = demo files,
# predictor = the registered default, holdout last:100, seed 0) and the task runner.
DEPLOYMENTS: dict[str, DeploymentRow] = {
    "demo": DeploymentRow(
        "Synthetic demo data (`ufo make-demo`) with the flow's defaults.", tags=("demo",)
    ),
    "competition": DeploymentRow(
        "The real competition files under data/raw/, submission under data/submissions/.",
        parameters={
            "train": paths.competition_train_path,
            "test": paths.competition_test_path,
            "out": paths.competition_submission_path,
        },
        tags=("competition",),
    ),
    "dask": DeploymentRow(
        "Demo defaults, tasks on Dask: the scheduler at $UFO_DASK_ADDRESS, else a local cluster.",
        runner=dask_runner,
        tags=("demo", "dask"),
    ),
}


def _resolve(value: Any) -> Any:
    value = value() if callable(value) else value
    return str(value) if isinstance(value, os.PathLike) else value


def resolved_rows() -> dict[str, tuple[str, dict[str, Any]]]:
    """name -> (runner spec, parameters) with paths and environment read now."""
    return {
        name: (_resolve(row.runner), {key: _resolve(v) for key, v in row.parameters.items()})
        for name, row in DEPLOYMENTS.items()
    }


def served_flows() -> list[tuple[object, dict[str, Any]]]:
    """(flow, Runner.add_flow options) per row: one flow object per task runner.

    The flow objects are served in memory (Runner.add_flow), which is what lets each
    deployment keep its own task runner; `prefect.serve(*deployments)` would re-import the
    flow from its entrypoint and silently fall back to the default thread runner."""
    from flows.pipeline import ufo_pipeline
    from flows.runners import build_task_runner

    served = []
    for name, (runner, parameters) in resolved_rows().items():
        row = DEPLOYMENTS[name]
        flow = ufo_pipeline.with_options(task_runner=build_task_runner(runner))
        options = {
            "name": name,
            "parameters": parameters,
            "description": f"{row.description} Task runner: {runner}.",
            "tags": list(row.tags),
        }
        served.append((flow, options))
    return served
