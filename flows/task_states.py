"""Task-run states for the console, from Prefect's event stream.

Every task-run state change is a Prefect event (`prefect.task-run.<state name>`) sent to
the API, from this process or from a Dask worker alike; the API streams them back to
subscribers. `TaskStateFeed` follows one flow run's stream in a daemon thread and hands
each state, as fields, to a callback: no log text is read."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

logger = logging.getLogger("flows.task_states")
_CONNECT_SECONDS = 30  # a loaded 2-core machine answers slowly
_STOP_SECONDS = 5


@dataclass(frozen=True)
class TaskRunState:
    """One state a task run entered."""

    task_run: str  # its name, e.g. fit-cplfw
    name: str  # the state's name: Completed, Cached, Retrying, Failed, ...
    type: str  # the state's type: COMPLETED, SCHEDULED, RUNNING, FAILED, ...
    run_count: int  # attempts started so far, this state's included
    retries: int  # attempts allowed after the first

    @property
    def is_completed(self) -> bool:
        return self.type == "COMPLETED"

    @property
    def is_retry(self) -> bool:
        """A new attempt after a failure starts (at once, or after AwaitingRetry's delay);
        `run_count` then counts it."""
        return self.name == "Retrying"

    @classmethod
    def from_event(cls, event) -> TaskRunState:
        payload = event.payload
        task_run = payload.get("task_run", {})
        return cls(
            task_run=event.resource.name or "",
            name=payload["validated_state"]["name"],
            type=payload["validated_state"]["type"],
            run_count=int(task_run.get("run_count", 0)),
            retries=int(task_run.get("empirical_policy", {}).get("retries") or 0),
        )


class TaskStateFeed:
    """Calls `on_state(TaskRunState)` for each state a task run of one flow run enters.

    `follow` is a Prefect flow `on_running` hook: the flow's run id is known then, before
    any of its tasks runs, and it returns once the subscription is in place."""

    def __init__(self, on_state: Callable[[TaskRunState], None]):
        self.on_state = on_state
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._ready = threading.Event()  # subscribed, or given up
        self.following = False

    def __reduce__(self):
        # The flow, with this hook, travels to Dask workers inside each task's run context;
        # the hook runs only in the flow's own process, so an inert feed is what they get
        # (the live one holds a thread, a loop and the console, which cannot be pickled).
        return (_inert_feed, ())

    def follow(self, _flow, flow_run, _state) -> None:
        if self._thread is not None:  # the flow run's retry: already followed
            return
        self._thread = threading.Thread(
            target=asyncio.run,
            args=(self._consume(flow_run.id),),
            name="ufo-task-states",
            daemon=True,
        )
        self._thread.start()
        if not self._ready.wait(_CONNECT_SECONDS):
            logger.warning("the console could not follow the task states: no event stream")

    async def _consume(self, flow_run_id) -> None:
        from prefect.events.clients import get_events_subscriber
        from prefect.events.filters import EventFilter, EventNameFilter, EventRelatedFilter

        self._loop, self._task = asyncio.get_running_loop(), asyncio.current_task()
        only_ours = EventFilter(
            event=EventNameFilter(prefix=["prefect.task-run."]),
            related=EventRelatedFilter(id=[f"prefect.flow-run.{flow_run_id}"]),
        )
        try:
            async with get_events_subscriber(filter=only_ours) as subscriber:
                self.following = True
                self._ready.set()
                async for event in subscriber:
                    try:
                        self.on_state(TaskRunState.from_event(event))
                    except Exception:  # one odd event must not end the display
                        logger.exception("the console could not show the event %s", event.id)
        except asyncio.CancelledError:
            pass
        except Exception as error:  # the console's loss, not the run's
            logger.warning("the console could not follow the task states: %s", error)
        finally:
            self._ready.set()

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(_STOP_SECONDS)


def _ignore_state(_state: TaskRunState) -> None:
    return None


def _inert_feed() -> TaskStateFeed:
    return TaskStateFeed(_ignore_state)
