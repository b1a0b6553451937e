"""Steps both flows share: reading and validating a file, naming the run, encoding, the
shared statistics, the fault-injection aid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_table_artifact
from prefect.runtime import flow_run

from schemas.search_space import ARCH_FIELD
from tasks import paths
from tasks.checks import validation
from tasks.events import event
from tasks.files import reading
from tasks.predict import encode, fitting
from tasks.predict.predictors import get_predictor_class
from tasks.safety import confinement
from tasks.steps.run_names import short_digest


def _publish_validation(report: validation.ValidationReport) -> None:
    create_table_artifact(
        key=f"validation-{report.kind}",
        table=report.to_table(),
        description=f"Great Expectations rules for the {report.kind} file {report.source}",
    )


@task(name="validate-file", task_run_name="validate-{kind}")
def read_and_validate(path: Path, kind: str) -> tuple[pd.DataFrame, str]:
    logger = get_run_logger()
    frame, digest = reading.read_competition_file(path)
    logger.info("read %d entries from %s (sha256 %s)", len(frame), path, digest[:12])
    report = validation.validate_frame(frame, kind, source=str(path))
    _publish_validation(report)
    validation.require_valid(report)
    logger.info("%s file passed %d rules", kind, len(report.results))
    return frame, digest


@task(name="name-flow-run")
def name_flow_run(prefix: str, digests: list[str]) -> str:
    """Name the run `<prefix>-<8 hex digits>` from the digests validation computed."""
    from prefect.client.orchestration import get_client

    name = f"{prefix}-{short_digest(*digests)}"
    with get_client(sync_client=True) as client:
        client.update_flow_run(flow_run.get_id(), name=name)
    get_run_logger().info("flow run named %s", name, extra=event("named", name=name))
    return name


def _encode(frame: pd.DataFrame, predictor: str, label: str) -> tuple[np.ndarray, str]:
    encoding = get_predictor_class(predictor).encoding
    encoded = encode.encode_archs_cached(frame[ARCH_FIELD], encoding, paths.cache_dir())
    note = f"{encoded.cache_path.name}: {'hit' if encoded.cache_hit else 'miss'}"
    get_run_logger().info("%s archs, encoding %s: cache %s", label, encoding, note)
    return encoded.features, note


@task(name="encode-archs", task_run_name="encode-train")
def encode_training(frame: pd.DataFrame, predictor: str) -> tuple[fitting.TrainingSet, str]:
    """The training set the fits need, and a note on the Parquet cache for the summary."""
    features, note = _encode(frame, predictor, "train")
    training = encode.training_set(frame, features)
    fitting.require_fittable(predictor, training)
    return training, note


@task(name="encode-archs", task_run_name="encode-test")
def encode_test(frame: pd.DataFrame, predictor: str) -> tuple[np.ndarray, str]:
    return _encode(frame, predictor, "test")


def _fault_token() -> str:
    return f"{flow_run.get_id()}:{flow_run.get_run_count()}"


def _maybe_fail(step: str, fault: str | None) -> None:
    fitting.maybe_inject_fault(step, fault, _fault_token(), paths.results_dir() / "faults")


@task(name="shared-statistics", task_run_name="shared-statistics")
def fit_shared_statistics(predictor: str, train: fitting.TrainingSet) -> object | None:
    """Cheap, before the eight fits: what the predictor learns from all tasks together
    (None for most predictors). The fits take it as an input, so it is in their cache key."""
    return fitting.fit_shared_stats(predictor, train)


def in_deployment_run() -> bool:
    """True inside a flow run started from a deployment (or under the serve process)."""
    if os.environ.get(confinement.CONFINED_ENV) == "1":
        return True
    try:
        from prefect.runtime import deployment

        return deployment.id is not None
    except Exception:  # no Prefect run context at all: not a deployment run
        return False
