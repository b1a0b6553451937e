"""The fit steps' policies: a failure is retried, a stop the user asked for is not."""

from __future__ import annotations

from prefect import flow
from prefect.cache_policies import NO_CACHE

from tasks import cancellation
from tasks.steps.policies import fit_step


def _probe(calls: list, stop: bool):
    """A flow whose one fit step fails: as a stop the user asked for, or as a failure."""

    @fit_step(
        name="policy-probe", cache_policy=NO_CACHE, persist_result=False, retry_delay_seconds=0
    )
    def step():
        calls.append(1)
        if stop:
            cancellation.request()
            raise cancellation.Cancelled("interrupted")
        raise RuntimeError("a failure worth retrying")

    @flow
    def probe() -> bool:
        return step(return_state=True).is_failed()

    return probe


def test_a_stop_is_not_retried_and_a_failure_is(prefect_harness, stop_request):
    for stop, attempts in ((False, 3), (True, 1)):
        calls: list = []
        assert _probe(calls, stop)()
        assert len(calls) == attempts, (stop, calls)
        cancellation.reset()
