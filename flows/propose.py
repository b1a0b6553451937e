"""The propose flow: a labelled training file and a budget in, the sub-networks worth
evaluating next on the supernet out."""

from __future__ import annotations

from prefect import flow, unmapped

from flows.runners import DEFAULT_RUNNER, build_task_runner
from schemas.costs import DEFAULT_IMAGE_SIZE
from schemas.search_space import ARCH_FIELD, TASKS
from tasks.predict.predictors import DEFAULT_PREDICTOR
from tasks.search.parameters import DEFAULT_BUDGET, DEFAULT_MAX_EVALS, DEFAULT_SEARCH_OBJECTIVE
from tasks.steps.common import (
    encode_training,
    fit_shared_statistics,
    name_flow_run,
    read_and_validate,
)
from tasks.steps.policies import safe_fits
from tasks.steps.propose import (
    check_propose_parameters,
    propose_subnetworks,
    publish_proposals,
    write_proposal_report,
)
from tasks.steps.search import fit_search_model, read_latency_table

DEFAULT_PROPOSALS = 5


@flow(name="ufo-propose", task_runner=build_task_runner(DEFAULT_RUNNER))
def ufo_propose(
    train: str | None = None,
    task: str = DEFAULT_SEARCH_OBJECTIVE,
    budget: str = DEFAULT_BUDGET,
    latency_table: str | None = None,
    n: int = DEFAULT_PROPOSALS,
    predictor: str = DEFAULT_PREDICTOR,
    out: str | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
    max_evals: int = DEFAULT_MAX_EVALS,
) -> str:
    """Validate, encode, fit one predictor per task (the same cached fits as ufo-search),
    choose `n` unmeasured sub-networks within the budget to evaluate next, write
    proposals.json/.csv and publish them."""
    run = check_propose_parameters(
        n=n, train=train, task=task, budget=budget, latency_table=latency_table, top=n,
        predictor=predictor, out=out, image_size=image_size, max_evals=max_evals,
    )  # fmt: skip
    latency = read_latency_table(run.latency_table)
    train_frame, train_digest = read_and_validate(run.train, "train")
    name_flow_run(f"propose-{run.objective}-{run.budget.metric}", [train_digest])
    training, _ = encode_training(train_frame, run.predictor)
    shared = fit_shared_statistics(run.predictor, training)
    (fit_model,) = safe_fits(fit_search_model)  # persisted: predictor state + sha256
    models = fit_model.map(
        TASKS, predictor=unmapped(run.predictor), train=unmapped(training), shared=unmapped(shared)
    )
    proposals = propose_subnetworks(
        dict(zip(TASKS, models.result(), strict=True)),
        list(train_frame[ARCH_FIELD]),
        run,
        latency,
        n,
    )
    written = write_proposal_report(proposals, run.out)
    publish_proposals(proposals, written)
    return str(run.out)
