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
    budget: str | list[str] = DEFAULT_BUDGET,
    latency_table: str | list[str] | None = None,
    top: int = DEFAULT_TOP,
    predictor: str = DEFAULT_PREDICTOR,
    out: str | None = None,
    image_size: int = DEFAULT_IMAGE_SIZE,
    max_evals: int = DEFAULT_MAX_EVALS,
    chips: str | None = None,
) -> str:
    """Validate, encode, fit one predictor per task, search the front and the picks within
    each budget, write the report (picks, front, plot; per chip and a summary for several
    chips) and publish it. Several budgets (a list, the n-th latency table with the n-th
    latency budget) or a chips file search several chips with one set of fits."""
    searches = check_search_parameters(
        budget=budget,
        latency_table=latency_table,
        chips=chips,
        out=out,
        train=train,
        task=task,
        top=top,
        predictor=predictor,
        image_size=image_size,
        max_evals=max_evals,
    )
    first = searches.runs[0]
    latencies = [read_latency_table(run.latency_table) for run in searches.runs]
    train_frame, train_digest = read_and_validate(first.train, "train")
    name_flow_run(f"search-{first.objective}-{first.budget.metric}", [train_digest])
    training, _ = encode_training(train_frame, first.predictor)
    # All eight tasks, whatever the objective: the report shows every task's prediction,
    # and a later search with another objective or budget finds every fit cached.
    shared = fit_shared_statistics(first.predictor, training)
    (fit_model,) = safe_fits(fit_search_model)  # persisted: predictor state + sha256
    models = fit_model.map(
        TASKS,
        predictor=unmapped(first.predictor),
        train=unmapped(training),
        shared=unmapped(shared),
    )
    outcomes = search_subnetworks(
        dict(zip(TASKS, models.result(), strict=True)),
        training,
        list(train_frame[ARCH_FIELD]),
        searches,
        latencies,
    )
    written = write_search_report(outcomes, searches)
    publish_search(outcomes, written)
    return str(searches.out)
