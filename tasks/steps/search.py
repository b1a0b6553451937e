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
from tasks.search.chips import ChipSearches, as_list, check_search_request
from tasks.search.chips_report import SUMMARY_FILES, chip_rows
from tasks.search.choose import choose_for_chips, write_outcomes
from tasks.search.decision import Measured
from tasks.search.report import NESTED_FIELDS, REPORT_FILES, arch_records
from tasks.steps.common import in_deployment_run
from tasks.steps.policies import fit_step
from tasks.steps.result_storage import SafeSerializer


def search_run_name() -> str:
    """Flow-run name: objective, budget and a short hash of the training file."""
    params = flow_run.parameters
    budget = str(params.get("budget", "")).replace("=", "-")
    return f"search-{params.get('task', 'all')}-{budget}-validating"


@task(name="check-search-parameters")
def check_search_parameters(
    budget, latency_table=None, chips=None, out=None, **common
) -> ChipSearches:
    """Every chip's parameters (one chip: today's single search), checked before any work."""
    confined = in_deployment_run()
    if confined:  # before any of these paths is touched
        confinement.require_inside_roots(
            {
                "train": common.get("train") or paths.demo_train_path(),
                "chips file": chips,
                **{f"latency table {t}": t for t in as_list(latency_table)},
                "output": out or paths.search_dir(),
            }
        )
    searches = check_search_request(
        budget, latency_table, chips, out, search_parameters.check_search_parameters, **common
    )
    if confined:
        for run in searches.runs:
            confinement.require_inside_roots({"latency table": run.latency_table})
            confinement.check_report_folder(run.out, REPORT_FILES)
        if searches.several:
            confinement.check_report_folder(searches.out, SUMMARY_FILES)
    return searches


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
def search_subnetworks(
    models: dict,
    train: fitting.TrainingSet,
    train_archs: list[str],
    searches: ChipSearches,
    latencies,
):
    """Every chip's search, and beside its best pick the best measured arch within its
    budget (tasks/search/decision.py)."""
    measured = Measured.of(train_archs, train.ranks, train.rows)
    outcomes = choose_for_chips(
        models, train_archs, list(searches.runs), latencies, list(searches.chips), measured=measured
    )
    logger = get_run_logger()
    for outcome in outcomes:
        logger.info(
            "%s: front of %d points; %s",
            outcome.title(),
            len(outcome.front.archs),
            outcome.best_line(),
        )
        for line in outcome.decision.lines():
            logger.info("%s: %s", outcome.title(), line)
    return outcomes


@task(name="write-search-report")
def write_search_report(outcomes: list, searches: ChipSearches) -> dict[str, str]:
    # A deployment run replaces only ufo's own files; `ufo search` checked that before
    # the work, honouring --force (a second check here would refuse what --force allowed).
    written = write_outcomes(outcomes, searches, replace_any=not in_deployment_run())
    for path in written.values():  # so a later deployment run may replace them
        ledger.record_written(Path(path), atomic.sha256_file(Path(path)))
    get_run_logger().info("wrote %s to %s", ", ".join(written), searches.out)
    return written


@task(name="publish-search")
def publish_search(outcomes: list, written: dict[str, str]) -> str:
    """Artifacts: the picks and the front (of the first chip when there are several, with
    the chips' summary table), and a summary naming every file written."""
    outcome = outcomes[0]

    def rows(scored):
        return [
            {k: v for k, v in r.items() if k not in NESTED_FIELDS}
            for r in arch_records(scored, outcome.image_size, outcome.latency)
        ]

    if len(outcomes) > 1:
        create_table_artifact(
            key="search-chips",
            table=[
                {k: v for k, v in r.items() if k != "supernet_config"} for r in chip_rows(outcomes)
            ],
            description=f"{len(outcomes)} chips",
        )

    create_table_artifact(
        key="search-picks", table=rows(outcome.picks), description=outcome.title()
    )
    create_table_artifact(
        key="search-front", table=rows(outcome.front), description=outcome.title()
    )
    markdown = "\n".join(
        [
            "# ufo-nas search",
            *(
                f"- {o.title()}: **{o.best_line()}**; front {len(o.front.archs)} points, "
                f"picks {len(o.picks.archs)}; " + "; ".join(o.decision.lines())
                for o in outcomes
            ),
            *(f"- `{name}`: `{path}`" for name, path in written.items()),
        ]
    )
    create_markdown_artifact(key="search-summary", markdown=markdown, description="ufo-nas search")
    return markdown
