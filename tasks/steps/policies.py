"""How the fits are cached and stored: the cache policy (inputs hashed by content, the
wrapper's source, the project's code), retries, and the checksummed result storage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from prefect import task
from prefect.cache_policies import TASK_SOURCE, CacheKeyFnPolicy, CachePolicy
from prefect.runtime import flow_run
from prefect.utilities.hashing import hash_objects

from tasks import cancellation, paths
from tasks.steps import cache_keys
from tasks.steps.result_storage import checksummed_storage

PROJECT_PACKAGES = (
    Path(__file__).resolve().parents[1],
    Path(__file__).resolve().parents[2] / "schemas",
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


@dataclass
class ContentInputs(CachePolicy):
    """Prefect's INPUTS, with numpy arrays hashed as bytes instead of pickled first
    (tasks/steps/cache_keys.py: 0.08 s instead of 0.49 s per fit for a million test archs)."""

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


def retry_unless_stopping(task, task_run, state) -> bool:
    """Prefect's retry condition: a step stopped because the user asked (Ctrl-C,
    tasks/cancellation.py) is not a failure to retry."""
    return not cancellation.requested()


# The fits and holdout evaluations: retried (unless the user asked to stop), and persisted
# so a rerun recomputes only what failed.
fit_step = partial(
    task,
    retries=2,
    retry_delay_seconds=1,
    retry_condition_fn=retry_unless_stopping,
    cache_policy=FIT_CACHE_POLICY,
    persist_result=True,
)


def safe_fits(*steps):
    """`steps` with their results stored as .npy/JSON behind a sha256
    (tasks/steps/result_storage.py); each step must use SafeSerializer. Call inside a flow
    run: it saves the storage block."""
    storage = checksummed_storage(paths.results_dir())
    return tuple(step.with_options(result_storage=storage) for step in steps)


def refit_on_first_attempt(step, refit: bool):
    """`refit=True` recomputes the step even when a result is cached, on the flow run's
    first attempt only: a retry of that run then reuses what the first attempt saved."""
    return step.with_options(refresh_cache=bool(refit) and flow_run.get_run_count() <= 1)
