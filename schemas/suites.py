"""Great Expectations suites for the file kinds, defined in code.

The suites run on the frame built by `tasks.checks.validation.prepare_frame`: the fields as
written plus derived columns (`<field>__int`: the value when it is an integer, else
null; `arch__text`: the arch when it is a string). The derived columns let range,
uniqueness and grammar rules run without tripping over values of the wrong type, which
the type rules report on their own.

A training file of one's own measurements (any entry may lack any task, a task may be
given as `<task>_score`) is checked by the "measurements" suite, built from the file's
layout: per task, the fields that give it and in how many entries. Its frame adds
`<field>__given` (1 when the entry gives the field, else 0) and `<score>__finite` (True
for a finite number, False for anything else given, null when not given)."""

from __future__ import annotations

from typing import Literal

import great_expectations as gx
import great_expectations.expectations as gxe

from schemas.search_space import (
    ARCH_FIELD,
    ARCH_REGEX,
    KEY_COLUMN,
    RANK_FIELDS,
    SCORE_FIELDS,
    TASKS,
)

FileKind = Literal["train", "test", "submission", "measurements"]
FILE_KINDS: tuple[str, ...] = ("train", "test", "submission")  # what a user names
# A train file that is not in the competition's layout is checked as measurements.
MEASUREMENTS = "measurements"
# Per task, the fields that give it in some entry and in how many entries (rank field
# first); a task no entry gives has its rank field with 0.
Layout = dict[str, dict[str, int]]
# A task's fit needs this many measured entries (the predictors' contract).
MIN_MEASURED = 4

INT_SUFFIX = "__int"
GIVEN_SUFFIX = "__given"
FINITE_SUFFIX = "__finite"
ARCH_TEXT = "arch__text"
EXPECTED_KEY = "expected__key"
EXPECTED_ARCH = "expected__arch"


def int_column(field: str) -> str:
    return field + INT_SUFFIX


def given_column(field: str) -> str:
    return field + GIVEN_SUFFIX


def finite_column(field: str) -> str:
    return field + FINITE_SUFFIX


def measurement_columns(layout: Layout) -> list[str]:
    """Every column the prepared frame of a valid measurements file has."""
    fields = [f for task in TASKS for f in layout[task]]
    derived = []
    for f in fields:
        derived += [given_column(f), int_column(f) if f in RANK_FIELDS else finite_column(f)]
    return [KEY_COLUMN, ARCH_FIELD, *fields, ARCH_TEXT, *derived]


def suite_columns(kind: FileKind) -> list[str]:
    """Every column the prepared frame of a valid file has, in order."""
    columns = [
        KEY_COLUMN,
        ARCH_FIELD,
        *RANK_FIELDS,
        ARCH_TEXT,
        *(int_column(f) for f in RANK_FIELDS),
    ]
    if kind == "submission":
        columns += [EXPECTED_KEY, EXPECTED_ARCH]
    return columns


def _rule(text: str, field: str) -> dict:
    return {"rule": text, "field": field}


def _arch_rules(duplicate_rule: str = "no duplicate arch") -> list:
    return [
        gxe.ExpectColumnValuesToNotBeNull(
            column=ARCH_FIELD, meta=_rule("arch is present", ARCH_FIELD)
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column=ARCH_FIELD, type_="str", meta=_rule("arch is a string", ARCH_FIELD)
        ),
        gxe.ExpectColumnValuesToMatchRegex(
            column=ARCH_TEXT,
            regex=ARCH_REGEX,
            meta=_rule(
                "arch follows the 37-character grammar (depth j/k/l, layers [123][123]1, '000' past the depth)",
                ARCH_FIELD,
            ),
        ),
        gxe.ExpectColumnValuesToBeUnique(column=ARCH_TEXT, meta=_rule(duplicate_rule, ARCH_FIELD)),
    ]


def _rank_present_rules(field: str) -> list:
    return [
        gxe.ExpectColumnToExist(column=field, meta=_rule("rank field exists", field)),
        gxe.ExpectColumnValuesToNotBeNull(
            column=field, meta=_rule("rank field is present in every entry", field)
        ),
        gxe.ExpectColumnValuesToBeOfType(
            column=field, type_="int", meta=_rule("rank is an integer", field)
        ),
    ]


def _permutation_rules(field: str, n_rows: int) -> list:
    # With the row count fixed, "integer, in 0..N-1, no repeats" is exactly "a permutation".
    return [
        gxe.ExpectColumnValuesToBeBetween(
            column=int_column(field),
            min_value=0,
            max_value=n_rows - 1,
            meta=_rule(f"rank is within 0..{n_rows - 1}", field),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=int_column(field), meta=_rule("no rank repeats within the task", field)
        ),
    ]


def _mixed_rule(task: str, counts: dict[str, int]) -> list:
    """A task given both ways: the less used field (scores on a tie) is named, with every
    entry that gives it."""
    rank, score = (f"{task}_rank", f"{task}_score")
    minority = rank if counts[rank] < counts[score] else score
    return [
        gxe.ExpectColumnValuesToBeInSet(
            column=given_column(minority),
            value_set=[0],
            meta=_rule(
                f"{task} is given one way in a file, {rank} or {score}, not both "
                f"({rank} in {counts[rank]} entries, {score} in {counts[score]})",
                minority,
            ),
        )
    ]


def _measured_task_rules(task: str, field: str, measured: int) -> list:
    rules = [
        gxe.ExpectColumnSumToBeBetween(
            column=given_column(field),
            min_value=MIN_MEASURED,
            meta=_rule(
                f"{task} is measured on at least {MIN_MEASURED} entries (a fit needs "
                f"{MIN_MEASURED})",
                field,
            ),
        )
    ]
    if measured == 0:
        return rules
    if field in SCORE_FIELDS:
        return rules + [
            gxe.ExpectColumnValuesToBeInSet(
                column=finite_column(field),
                value_set=[True],
                meta=_rule("score is a finite number", field),
            )
        ]
    return rules + [
        gxe.ExpectColumnValuesToBeOfType(
            column=field, type_="int", meta=_rule("rank is an integer", field)
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column=int_column(field),
            min_value=0,
            max_value=measured - 1,
            meta=_rule(
                f"ranks of the {measured} entries measured on {task} are within 0..{measured - 1}",
                field,
            ),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=int_column(field), meta=_rule("no rank repeats within the task", field)
        ),
    ]


def measurement_expectations(layout: Layout) -> list:
    """The rules of a training file of measurements with this layout."""
    expectations: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=measurement_columns(layout),
            exact_match=True,
            meta=_rule("no unknown fields", "*"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=KEY_COLUMN, meta=_rule("keys are unique", KEY_COLUMN)
        ),
        *_arch_rules("no duplicate arch (each arch measured in one entry)"),
    ]
    for task in TASKS:
        counts = layout[task]
        if len(counts) > 1:
            expectations += _mixed_rule(task, counts)
        else:
            ((field, measured),) = counts.items()
            expectations += _measured_task_rules(task, field, measured)
    return expectations


def build_expectations(kind: FileKind, n_rows: int, layout: Layout | None = None) -> list:
    if kind == MEASUREMENTS:
        if layout is None:
            raise ValueError("the measurements suite is built from the file's layout")
        return measurement_expectations(layout)
    if kind not in FILE_KINDS:
        raise ValueError(f"unknown file kind {kind!r}; expected one of {FILE_KINDS}")
    expectations: list = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=suite_columns(kind),
            exact_match=True,
            meta=_rule("no unknown or missing fields", "*"),
        ),
        gxe.ExpectColumnValuesToBeUnique(
            column=KEY_COLUMN, meta=_rule("keys are unique", KEY_COLUMN)
        ),
        *_arch_rules(),
    ]
    for field in RANK_FIELDS:
        expectations += _rank_present_rules(field)
        if kind in ("train", "submission"):
            expectations += _permutation_rules(field, n_rows)
    if kind == "submission":
        expectations += [
            gxe.ExpectTableRowCountToEqual(
                value=n_rows, meta=_rule("one entry per test arch", "*")
            ),
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=KEY_COLUMN,
                column_B=EXPECTED_KEY,
                meta=_rule("same keys in the same order as the test file", KEY_COLUMN),
            ),
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=ARCH_FIELD,
                column_B=EXPECTED_ARCH,
                meta=_rule("same arch string as the test file", ARCH_FIELD),
            ),
        ]
    return expectations


def build_suite(kind: FileKind, n_rows: int, layout: Layout | None = None) -> gx.ExpectationSuite:
    """The suite for one file kind; `n_rows` is the file's row count (the test file's
    for a submission); `layout` is a measurements file's (see Layout)."""
    return gx.ExpectationSuite(
        name=f"ufo_{kind}_suite", expectations=build_expectations(kind, n_rows, layout)
    )
