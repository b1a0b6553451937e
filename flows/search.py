"""The search flow: a labelled training file and a budget in, the sub-networks to deploy out."""

from __future__ import annotations

from prefect import flow, unmapped

from flows.runners import DEFAULT_RUNNER, build_task_runner
from schemas.costs import DEFAULT_IMAGE_SIZE
from schemas.search_space import ARCH_FIELD, TASKS
from tasks.predict.predictors import DEFAULT_PREDICTOR
from tasks.search.parameters import (
    DEFAULT_BUDGET,
    DEFAULT_MAX_EVALS,
    DEFAULT_SEARCH_OBJECTIVE,
    DEFAULT_TOP,
)
from tasks.steps.common import (
    encode_training,
    fit_shared_statistics,
    name_flow_run,
    read_and_validate,
)
from tasks.steps.policies import safe_fits
from tasks.steps.search import (
    check_search_parameters,
    fit_search_model,
    publish_search,
    read_latency_table,
    search_run_name,
    search_subnetworks,
    write_search_report,
)


@flow(
    name="ufo-search",
    flow_run_name=search_run_name,
    task_runner=build_task_runner(DEFAULT_RUNNER),
)
def ufo_search(
    train: str | None = None,
    task: str = DEFAULT_SEARCH_OBJECTIVE,
    budget: str = DEFAULT_BUDGET,
    latency_table: str | None = None,
    top: int = DEFAULT_TOP,
    predictor: str = DEFAULT_PREDICTOR,
    out: str | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
    max_evals: int = DEFAULT_MAX_EVALS,
) -> str:
    """Validate, encode, fit one predictor per task, search the front and the picks within
    the budget, write the report (picks, front, plot) and publish it."""
    run = check_search_parameters(
        train=train,
        task=task,
        budget=budget,
        latency_table=latency_table,
        top=top,
        predictor=predictor,
        out=out,
        image_size=image_size,
        max_evals=max_evals,
    )
    latency = read_latency_table(run.latency_table)
    train_frame, train_digest = read_and_validate(run.train, "train")
    name_flow_run(f"search-{run.objective}-{run.budget.metric}", [train_digest])
    training, _ = encode_training(train_frame, run.predictor)
    # All eight tasks, whatever the objective: the report shows every task's prediction,
    # and a later search with another objective or budget finds every fit cached.
    shared = fit_shared_statistics(run.predictor, training)
    (fit_model,) = safe_fits(fit_search_model)  # persisted: predictor state + sha256
    models = fit_model.map(
        TASKS,
        predictor=unmapped(run.predictor),
        train=unmapped(training),
        shared=unmapped(shared),
    )
    outcome = search_subnetworks(
        dict(zip(TASKS, models.result(), strict=True)),
        list(train_frame[ARCH_FIELD]),
        run,
        latency,
    )
    written = write_search_report(outcome, run.out)
    publish_search(outcome, written)
    return str(run.out)
