"""The project's deployments of flows `ufo-pipeline` and `ufo-search`, declared in one table.

Each row names its flow, overrides some of the flow's parameter defaults and picks a task runner.
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


FLOWS = ("ufo-pipeline", "ufo-search", "ufo-propose")


@dataclass(frozen=True)
class DeploymentRow:
    flow: str  # one of FLOWS
    name: str
    description: str
    parameters: dict[str, Any] = field(default_factory=dict)
    runner: str | Callable[[], str] = "threads"
    tags: tuple[str, ...] = ()


# Parameter overrides on top of each flow's defaults (ufo-pipeline: train/test/out None =
# demo files, the registered default predictor, holdout last:100; ufo-search: the demo
# training file, objective all, a params budget) and the task runner.
DEPLOYMENTS: tuple[DeploymentRow, ...] = (
    DeploymentRow(
        "ufo-pipeline",
        "demo",
        "Synthetic demo data (`ufo make-demo`) with the flow's defaults.",
        tags=("demo",),
    ),
    DeploymentRow(
        "ufo-pipeline",
        "competition",
        "The real competition files under data/raw/, submission under data/submissions/.",
        parameters={
            "train": paths.competition_train_path,
            "test": paths.competition_test_path,
            "out": paths.competition_submission_path,
        },
        tags=("competition",),
    ),
    DeploymentRow(
        "ufo-pipeline",
        "dask",
        "Demo defaults, tasks on Dask: the scheduler at $UFO_DASK_ADDRESS, else a local cluster.",
        runner=dask_runner,
        tags=("demo", "dask"),
    ),
    DeploymentRow(
        "ufo-search",
        "demo",
        "Choose sub-networks under a budget on the synthetic demo data; report under data/search/.",
        tags=("demo", "search"),
    ),
    DeploymentRow(
        "ufo-propose",
        "demo",
        "Which sub-networks to evaluate next under a budget, on the synthetic demo data; "
        "proposals under data/search/.",
        tags=("demo", "propose"),
    ),
)


def _resolve(value: Any) -> Any:
    value = value() if callable(value) else value
    return str(value) if isinstance(value, os.PathLike) else value


def resolved_rows() -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(flow, name) -> (runner spec, parameters) with paths and environment read now."""
    return {
        (row.flow, row.name): (
            _resolve(row.runner),
            {key: _resolve(v) for key, v in row.parameters.items()},
        )
        for row in DEPLOYMENTS
    }


def _flow_object(flow_name: str):
    if flow_name == "ufo-pipeline":
        from flows.pipeline import ufo_pipeline

        return ufo_pipeline
    if flow_name == "ufo-propose":
        from flows.propose import ufo_propose

        return ufo_propose
    from flows.search import ufo_search

    return ufo_search


def served_flows() -> list[tuple[object, dict[str, Any]]]:
    """(flow, Runner.add_flow options) per row: one flow object per task runner.

    The flow objects are served in memory (Runner.add_flow), which is what lets each
    deployment keep its own task runner; `prefect.serve(*deployments)` would re-import the
    flow from its entrypoint and silently fall back to the default thread runner."""
    from flows.runners import build_task_runner

    rows = resolved_rows()
    served = []
    for row in DEPLOYMENTS:
        runner, parameters = rows[(row.flow, row.name)]
        flow = _flow_object(row.flow).with_options(task_runner=build_task_runner(runner))
        options = {
            "name": row.name,
            "parameters": parameters,
            "description": f"{row.description} Task runner: {runner}.",
            "tags": list(row.tags),
        }
        served.append((flow, options))
    return served
