"""Structured log records for the `ufo` console (flows/console.py).

A step logs as usual and adds `extra=event(kind, ...)`: the message stays an ordinary log
line (log file, dashboard), and the console reads the fields from `record.ufo_event`
instead of parsing text."""

from __future__ import annotations

EVENT_ATTR = "ufo_event"


def event(kind: str, **fields: object) -> dict[str, dict]:
    return {EVENT_ATTR: {"kind": kind, **fields}}
