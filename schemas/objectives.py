"""Objective specs: which tasks a search maximises, and how much each one counts.

A spec is one item or a comma list of items. An item names a task (`cplfw`), a group of
tasks (TASK_GROUPS: `face`, `person`, `vehicle`, `product`) or `all`, optionally with a
weight (`market1501:2`; 1 when not given). Each item carries its weight, and a group (or
`all`) shares it equally among its tasks: `face,person` weighs faces and persons alike
(cplfw 1/2, each person task 1/6), where `cplfw,market1501,dukemtmc,msmt17` weighs the
four tasks alike (1/4 each). Sharing keeps a group's say independent of how many test
sets it happens to hold. A task may be named once, directly or through a group.

`parse_task_spec` turns a spec into task -> weight (normalised, in TASKS order);
`describe_weights` and `describe_objective` name the objective in words for reports."""

from __future__ import annotations

import math
from collections.abc import Mapping
from fractions import Fraction

from schemas.search_space import TASK_GROUPS, TASKS

ALL_TASKS = "all"
# A share is written as a fraction when one with a denominator this small or smaller is
# within float noise of it (1/3, 2/7, 3/20), else as a decimal.
_MAX_DENOMINATOR = 100


class TaskSpecError(ValueError):
    """An objective spec that cannot be read; the message names the problem."""


def _item_tasks(name: str) -> tuple[str, ...]:
    if name == ALL_TASKS:
        return TASKS
    if name in TASK_GROUPS:
        return TASK_GROUPS[name]
    if name in TASKS:
        return (name,)
    raise TaskSpecError(
        f"unknown task or group {name!r}: use a task ({', '.join(TASKS)}), "
        f"a group ({', '.join(TASK_GROUPS)}) or {ALL_TASKS!r}"
    )


def _item_weight(item: str, text: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise TaskSpecError(f"weight {text!r} of {item!r} is not a number") from None
    if not math.isfinite(weight) or weight <= 0:
        raise TaskSpecError(f"weight of {item!r} must be a finite number > 0, got {text!r}")
    return weight


def parse_task_spec(spec: str) -> dict[str, float]:
    """task -> weight (> 0, summing to 1, in TASKS order) of an objective spec; raise
    TaskSpecError naming the problem (unknown name, empty item, bad weight, a task twice)."""
    if not isinstance(spec, str):
        raise TaskSpecError(f"an objective spec is a string, got {type(spec).__name__}")
    if not spec.strip():
        raise TaskSpecError(f"empty objective spec {spec!r}: name a task, a group or {ALL_TASKS!r}")
    weights: dict[str, float] = {}
    named_by: dict[str, str] = {}
    for item in (part.strip() for part in spec.split(",")):
        name, has_weight, text = (piece.strip() for piece in item.partition(":"))
        if not name:
            raise TaskSpecError(f"empty item in objective spec {spec!r}")
        tasks = _item_tasks(name)
        weight = _item_weight(item, text) if has_weight else 1.0
        for task in tasks:
            if task in weights:
                raise TaskSpecError(
                    f"task {task!r} is named twice in {spec!r} (by {named_by[task]!r} and {name!r})"
                )
            weights[task], named_by[task] = weight / len(tasks), name
    total = sum(weights.values())
    return {task: weights[task] / total for task in TASKS if task in weights}


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _share(value: float) -> str:
    fraction = Fraction(value).limit_denominator(_MAX_DENOMINATOR)
    if math.isclose(float(fraction), value, rel_tol=1e-9):
        return f"{fraction.numerator}/{fraction.denominator}"
    return f"{value:.3g}"


def describe_weights(weights: Mapping[str, float]) -> str:
    """The objective of task weights in words: 'cplfw', 'mean of all 8 tasks',
    'weighted mean of cplfw (2/3) and market1501 (1/3)'. Tasks of weight 0 are left out."""
    tasks = [task for task in TASKS if weights.get(task, 0.0) > 0]
    if not tasks:
        raise TaskSpecError(f"no task has a weight > 0 in {dict(weights)}")
    if len(tasks) == 1:
        return tasks[0]
    shares = [weights[task] for task in tasks]
    if math.isclose(min(shares), max(shares), rel_tol=1e-9):
        every = len(tasks) == len(TASKS)
        return f"mean of all {len(TASKS)} tasks" if every else f"mean of {_join(tasks)}"
    total = sum(shares)
    return "weighted mean of " + _join(
        [f"{task} ({_share(share / total)})" for task, share in zip(tasks, shares, strict=True)]
    )


def describe_objective(spec: str) -> str:
    """An objective spec in words (see describe_weights); raises TaskSpecError as parse does."""
    return describe_weights(parse_task_spec(spec))
