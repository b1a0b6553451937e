"""Thin Prefect wrappers around the plain functions in tasks/: names, retries, cache
policies, artifacts and logging. The logic lives in the wrapped functions."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.runtime import flow_run
from prefect.utilities.hashing import hash_objects

from schemas.search_space import ARCH_FIELD, RANK_FIELDS, TASKS
from tasks import (
    cache_keys,
    confinement,
    encode,
    fitting,
    io,
    outputs,
    parameters,
    paths,
    submission,
    validate,
)
from tasks.evaluate import Holdout
from tasks.events import event
from tasks.predictors import get_predictor_class
from tasks.results_integrity import SafeSerializer, checksummed_storage
from tasks.run_names import short_digest

# INFO records of the plain functions (fit times, taus) reach the run logs when
# PREFECT_LOGGING_EXTRA_LOGGERS includes "tasks" (flows/settings.py sets it).
logging.getLogger("tasks").setLevel(logging.INFO)

PROJECT_PACKAGES = (
    Path(__file__).resolve().parent,
    Path(__file__).resolve().parents[1] / "schemas",
)


def code_version() -> str:
    """Hash of the project's task and schema sources. TASK_SOURCE covers only a
    wrapper's own source, so without this a changed predictor would hit a stale cache."""
    digest = hashlib.sha256()
    for package in PROJECT_PACKAGES:
        for source in sorted(package.rglob("*.py")):
            digest.update(source.relative_to(package.parent).as_posix().encode())
            digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def provisional_run_name() -> str:
    """The flow run's name until validation has hashed the inputs (see name_flow_run)."""
    return f"{flow_run.parameters.get('predictor', 'default')}-validating"


@dataclass
class ContentInputs(CachePolicy):
    """Prefect's INPUTS, with numpy arrays hashed as bytes instead of pickled first
    (tasks/cache_keys.py: 0.08 s instead of 0.49 s per fit for a million test archs)."""

    exclude: list[str] = field(default_factory=list)

    def compute_key(self, task_ctx, inputs, flow_parameters, **kwargs) -> str | None:
        kept = {name: value for name, value in (inputs or {}).items() if name not in self.exclude}
        if not kept:
            return None
        return cache_keys.content_digest(kept, partial(hash_objects, raise_on_failure=True))


# The project's code is part of a fit's key through the policy itself: TASK_SOURCE covers
# only a wrapper's own source, so without it a changed predictor would hit a stale cache.
CODE_VERSION_POLICY = CacheKeyFnPolicy(cache_key_fn=lambda _context, _parameters: code_version())
# Inputs + code define a fit's result; the fault-injection switch does not.
FIT_CACHE_POLICY = ContentInputs(exclude=["fault"]) + TASK_SOURCE + CODE_VERSION_POLICY

# The fits and holdout evaluations: retried, and persisted so a rerun recomputes only
# what failed.
fit_step = partial(
    task,
    retries=2,
    retry_delay_seconds=1,
    cache_policy=FIT_CACHE_POLICY,
    persist_result=True,
)


@task(name="check-parameters")
def check_parameters(
    train: str, test: str, out: str, predictor: str, holdout: str
) -> parameters.RunParameters:
    confined = confinement.in_deployment_run()
    if confined:  # before any of these paths is touched
        names = ("train", "test", "output")
        labelled = zip(names, parameters.default_paths(train, test, out), strict=True)
        confinement.require_inside_roots(dict(labelled))
    run = parameters.check_run_parameters(train, test, out, predictor, holdout)
    # The CLI has checked replacing (it honours --force); a deployment run never may.
    confinement.check_submission_output(
        run.out, run.test, replace_any=not confined, hint=confinement.REPLACE_HINT_DEPLOYMENT
    )
    return run


def _publish_validation(report: validate.ValidationReport) -> None:
    create_table_artifact(
        key=f"validation-{report.kind}",
        table=report.to_table(),
        description=f"Great Expectations rules for the {report.kind} file {report.source}",
    )


@task(name="validate-file", task_run_name="validate-{kind}")
def read_and_validate(path: Path, kind: str) -> tuple[pd.DataFrame, str]:
    logger = get_run_logger()
    frame, digest = io.read_competition_file(path)
    logger.info("read %d entries from %s (sha256 %s)", len(frame), path, digest[:12])
    report = validate.validate_frame(frame, kind, source=str(path))
    _publish_validation(report)
    validate.require_valid(report)
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
    return encode.training_set(frame, features), note


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


@fit_step(
    name="fit-task-predictor", task_run_name="fit-{task_name}", result_serializer=SafeSerializer()
)
def fit_task_predictor(
    task_name: str,
    predictor: str,
    train: fitting.TrainingSet,
    test_features: np.ndarray,
    shared: object | None = None,
    fault: str | None = None,
) -> np.ndarray:
    _maybe_fail(f"fit:{task_name}", fault)
    return fitting.fit_and_predict_task(task_name, predictor, train, test_features, shared)


@fit_step(
    name="evaluate-task-holdout",
    task_run_name="holdout-{task_name}",
    result_serializer=SafeSerializer(),
)
def evaluate_task_holdout(
    task_name: str,
    predictor: str,
    train: fitting.TrainingSet,
    holdout: Holdout,
    holdout_seed: int,
    fault: str | None = None,
) -> list[float]:
    _maybe_fail(f"holdout:{task_name}", fault)
    return fitting.holdout_taus_for_task(task_name, predictor, train, holdout, holdout_seed)


def safe_fits(*steps):
    """`steps` (by default the pipeline's fit and holdout tasks) with their results stored
    as .npy/JSON behind a sha256 (tasks/results_integrity.py); each step must use
    SafeSerializer. Call inside a flow run: it saves the storage block."""
    steps = steps or (fit_task_predictor, evaluate_task_holdout)
    storage = checksummed_storage(paths.results_dir())
    return tuple(step.with_options(result_storage=storage) for step in steps)


def refit_on_first_attempt(step, refit: bool):
    """`refit=True` recomputes the step even when a result is cached, on the flow run's
    first attempt only: a retry of that run then reuses what the first attempt saved."""
    return step.with_options(refresh_cache=bool(refit) and flow_run.get_run_count() <= 1)


@task(name="publish-evaluation")
def publish_evaluation(
    taus_per_task: list[list[float]], predictor: str, holdout: Holdout
) -> dict[str, float]:
    if holdout.kind == "none":
        get_run_logger().info("holdout none: no evaluation")
        return {}
    means = {t: float(np.mean(taus)) for t, taus in zip(TASKS, taus_per_task, strict=True)}
    means["average"] = float(np.mean([means[t] for t in TASKS]))
    rows = [{"task": name, "kendall_tau": round(value, 4)} for name, value in means.items()]
    for row in rows:
        get_run_logger().info(
            "holdout %s, %s: Kendall tau %.4f", holdout, row["task"], row["kendall_tau"]
        )
    get_run_logger().info(
        "average Kendall tau %.4f",
        means["average"],
        extra=event("taus", holdout=str(holdout), taus=means),
    )
    create_table_artifact(
        key="kendall-tau",
        table=rows,
        description=f"Kendall tau per task, predictor {predictor}, holdout {holdout}",
    )
    return means


@task(name="assemble-submission")
def assemble(test_frame: pd.DataFrame, scores: list[np.ndarray]) -> pd.DataFrame:
    return submission.assemble_submission(test_frame, dict(zip(TASKS, scores, strict=True)))


@task(name="check-submission")
def check_submission(submission_frame: pd.DataFrame, test_frame: pd.DataFrame, out: Path) -> dict:
    """Write the submission to a temporary file beside `out`, read that file back and check
    it with the submission suite: what write-submission puts in place is what was checked."""

    def check(staged: Path) -> None:
        written, _ = io.read_competition_file(staged)
        report = validate.validate_frame(
            written, "submission", source=str(out), reference=test_frame
        )
        _publish_validation(report)
        validate.require_valid(report)

    return submission.write_staged_submission(out, submission_frame, check)


@task(name="write-submission")
def write_submission(staged: dict) -> dict:
    written = submission.commit_staged_submission(staged)
    get_run_logger().info(
        "wrote %s (%d bytes, sha256 %s)",
        written["path"],
        written["bytes"],
        written["sha256"][:12],
        extra=event(
            "written", path=written["path"], bytes=written["bytes"], sha256=written["sha256"]
        ),
    )
    return written


@task(name="publish-summary")
def publish_summary(
    run: parameters.RunParameters,
    cache_notes: list[str],
    evaluation: dict,
    written: dict,
) -> str:
    hits = ", ".join(cache_notes)
    tau = f"{evaluation['average']:.4f}" if evaluation else "not evaluated"
    markdown = "\n".join(
        [
            "# ufo-nas submission",
            f"- train: `{run.train}`",
            f"- test: `{run.test}`",
            f"- predictor: `{run.predictor}`, holdout `{run.holdout}`, average Kendall tau {tau}",
            f"- encoding cache: {hits}",
            f"- submission: `{written['path']}` ({written['bytes']} bytes, sha256 `{written['sha256']}`)",
            f"- checks passed: train suite, test suite, submission suite ({len(RANK_FIELDS)} tasks, permutations of 0..N-1)",
        ]
    )
    create_markdown_artifact(
        key="run-summary", markdown=markdown, description="ufo-nas run summary"
    )
    return markdown


# ---- ufo-search -------------------------------------------------------------------------


def search_run_name() -> str:
    """Flow-run name: objective, budget and a short hash of the training file."""
    params = flow_run.parameters
    budget = str(params.get("budget", "")).replace("=", "-")
    return f"search-{params.get('task', 'all')}-{budget}-validating"


@task(name="check-search-parameters")
def check_search_parameters(**kwargs) -> parameters.SearchParameters:
    confined = confinement.in_deployment_run()
    if confined:  # before any of these paths is touched
        confinement.require_inside_roots(
            {
                "train": kwargs.get("train") or paths.demo_train_path(),
                "latency table": kwargs.get("latency_table"),
                "output": kwargs.get("out") or paths.search_dir(),
            }
        )
    run = parameters.check_search_parameters(**kwargs)
    if confined:
        from tasks.search.report import REPORT_FILES

        confinement.check_report_folder(run.out, REPORT_FILES)
    return run


@task(name="read-latency-table")
def read_latency_table(path: Path | None):
    if path is None:
        return None
    from tasks.latency import read_latency_table as read_table

    table = read_table(path)
    get_run_logger().info("latency table %s: %s", path, table.source)
    return table


# The fitted predictor itself is the result (the search scores millions of candidates
# with it), stored as its plain-data state (tasks/predictors/state.py), never pickled.
@fit_step(
    name="fit-search-model", task_run_name="fit-{task_name}", result_serializer=SafeSerializer()
)
def fit_search_model(
    task_name: str, predictor: str, train: fitting.TrainingSet, shared: object | None = None
):
    return fitting.fit_task_model(task_name, predictor, train, shared)


@task(name="search-subnetworks")
def search_subnetworks(models: dict, train_archs: list[str], run, latency):
    from tasks.search.choose import choose_subnetworks

    outcome = choose_subnetworks(models, train_archs, run, latency)
    logger = get_run_logger()
    logger.info(
        "%s: front of %d points; %s", outcome.title(), len(outcome.front.archs), outcome.best_line()
    )
    return outcome


@task(name="write-search-report")
def write_search_report(outcome, out: Path) -> dict[str, str]:
    from tasks.search.choose import write_outcome

    written = write_outcome(outcome, out)
    for path in written.values():  # so a later deployment run may replace them
        outputs.record_written(Path(path), outputs.sha256_file(Path(path)))
    get_run_logger().info("wrote %s to %s", ", ".join(written), out)
    return written


@task(name="publish-search")
def publish_search(outcome, written: dict[str, str]) -> str:
    from tasks.search.report import arch_records

    def rows(scored):
        return [
            {k: v for k, v in r.items() if k not in ("layers", "predicted_per_task")}
            for r in arch_records(scored, outcome.image_size, outcome.latency)
        ]

    create_table_artifact(
        key="search-picks", table=rows(outcome.picks), description=outcome.title()
    )
    create_table_artifact(
        key="search-front", table=rows(outcome.front), description=outcome.title()
    )
    markdown = "\n".join(
        [
            "# ufo-nas search",
            f"- {outcome.title()}",
            f"- **{outcome.best_line()}**",
            f"- front: {len(outcome.front.archs)} points; picks: {len(outcome.picks.archs)}",
            *(f"- `{name}`: `{path}`" for name, path in written.items()),
        ]
    )
    create_markdown_artifact(key="search-summary", markdown=markdown, description="ufo-nas search")
    return markdown
