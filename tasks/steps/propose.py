"""The ufo-propose flow's own steps: which sub-networks to evaluate next."""

from __future__ import annotations

from pathlib import Path

from prefect import get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from tasks import paths
from tasks.errors import ParameterError
from tasks.files import atomic
from tasks.safety import confinement, ledger
from tasks.search import parameters as search_parameters
from tasks.search.propose import PROPOSAL_FILES, proposal_records, propose, write_proposals
from tasks.steps.common import in_deployment_run

MAX_PROPOSALS = 100  # a batch of evaluations on the supernet, not a search's front


def check_batch_size(n: object) -> None:
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_PROPOSALS:
        raise ParameterError(f"n must be a whole number from 1 to {MAX_PROPOSALS}, got {n!r}")


@task(name="check-propose-parameters")
def check_propose_parameters(n: int, **kwargs) -> search_parameters.SearchParameters:
    confined = in_deployment_run()
    if confined:  # before any of these paths is touched
        confinement.require_inside_roots(
            {
                "train": kwargs.get("train") or paths.demo_train_path(),
                "latency table": kwargs.get("latency_table"),
                "output": kwargs.get("out") or paths.search_dir(),
            }
        )
    check_batch_size(n)
    run = search_parameters.check_search_parameters(**kwargs)
    if confined:
        confinement.check_report_folder(run.out, PROPOSAL_FILES)
    return run


@task(name="propose-subnetworks")
def propose_subnetworks(models: dict, train_archs: list[str], run, latency, n: int):
    proposals = propose(models, train_archs, run, latency, n)
    get_run_logger().info(
        "%d proposals within %s (rule %s, from %d candidates)",
        len(proposals.reasons),
        run.budget,
        proposals.rule,
        proposals.pool,
    )
    return proposals


@task(name="write-proposals")
def write_proposal_report(proposals, out: Path) -> dict[str, str]:
    # A deployment run replaces only ufo's own files; `ufo propose` checked that before
    # the work, honouring --force.
    written = write_proposals(
        Path(out), proposal_records(proposals), replace_any=not in_deployment_run()
    )
    for path in written.values():  # so a later deployment run may replace them
        ledger.record_written(Path(path), atomic.sha256_file(Path(path)))
    get_run_logger().info("wrote %s to %s", ", ".join(written), out)
    return written


@task(name="publish-proposals")
def publish_proposals(proposals, written: dict[str, str]) -> str:
    nested = ("layers", "predicted_per_task", "sd_per_task", "supernet_config")
    rows = [{k: v for k, v in r.items() if k not in nested} for r in proposal_records(proposals)]
    create_table_artifact(key="proposals", table=rows, description=f"rule {proposals.rule}")
    markdown = "\n".join(
        [
            "# ufo-nas proposals: what to evaluate next",
            f"- {len(rows)} sub-networks, rule `{proposals.rule}`, from {proposals.pool} candidates",
            *(f"- `{name}`: `{path}`" for name, path in written.items()),
        ]
    )
    create_markdown_artifact(
        key="proposals-summary", markdown=markdown, description="ufo-nas propose"
    )
    return markdown
