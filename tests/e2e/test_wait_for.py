"""The one polling helper of the end-to-end tests, on a fake reader (no stack needed)."""

from __future__ import annotations

import pytest

from tests.e2e.stack import wait_for


def _arrives_on_read(n: int):
    """A reader that sees the item only from its n-th call on, like a late log batch."""
    calls = []

    def read() -> list[str]:
        calls.append(1)
        return ["started", "finished"] if len(calls) >= n else ["started"]

    return read, calls


def _lacking(seen: list[str]) -> str:
    return "" if "finished" in seen else "'finished'"


def test_wait_for_reads_again_until_the_late_item_is_there():
    read, calls = _arrives_on_read(3)
    assert wait_for(read, _lacking, "the logs", timeout=10, interval=0.01) == [
        "started",
        "finished",
    ]
    assert len(calls) == 3


class FakeClock:
    """Time that moves only when the loop sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_wait_for_gives_up_after_the_timeout_and_reports_what_it_saw():
    read, calls = _arrives_on_read(10**9)
    clock = FakeClock()
    with pytest.raises(AssertionError) as failure:
        wait_for(
            read, _lacking, "the logs", timeout=3, interval=0.5, clock=clock, sleep=clock.sleep
        )
    # reads at 0, 0.5, ..., 3.0: it gives up at the first read at or past the deadline
    assert clock.now == 3.0 and clock.sleeps == [0.5] * 6
    assert len(calls) == 7
    message = str(failure.value)
    assert "the logs" in message and "still missing: 'finished'" in message
    assert "['started']" in message  # what it last saw
