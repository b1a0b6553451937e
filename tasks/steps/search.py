"""The ufo-search flow's own steps."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.runtime import flow_run

from tasks import paths
from tasks.files import atomic
from tasks.predict import fitting
from tasks.safety import confinement, ledger
from tasks.search import parameters as search_parameters
from tasks.steps.common import in_deployment_run
from tasks.steps.policies import fit_step
from tasks.steps.result_storage import SafeSerializer


def search_run_name() -> str:
    """Flow-run name: objective, budget and a short hash of the training file."""
    params = flow_run.parameters
    budget = str(params.get("budget", "")).replace("=", "-")
    return f"search-{params.get('task', 'all')}-{budget}-validating"


@task(name="check-search-parameters")
def check_search_parameters(**kwargs) -> search_parameters.SearchParameters:
    confined = in_deployment_run()
    if confined:  # before any of these paths is touched
        confinement.require_inside_roots(
            {
                "train": kwargs.get("train") or paths.demo_train_path(),
                "latency table": kwargs.get("latency_table"),
                "output": kwargs.get("out") or paths.search_dir(),
            }
        )
    run = search_parameters.check_search_parameters(**kwargs)
    if confined:
        from tasks.search.report import REPORT_FILES

        confinement.check_report_folder(run.out, REPORT_FILES)
    return run


@task(name="read-latency-table")
def read_latency_table(path: Path | None):
    if path is None:
        return None
    from tasks.latency.table import read_latency_table as read_table

    table = read_table(path)
    get_run_logger().info("latency table %s: %s", path, table.source)
    return table


# The fitted predictor itself is the result (the search scores millions of candidates
# with it), stored as its plain-data state (tasks/predict/predictors/state.py), never pickled.
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
        ledger.record_written(Path(path), atomic.sha256_file(Path(path)))
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
