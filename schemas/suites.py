"""Great Expectations suites for the three file kinds, defined in code.

The suites run on the frame built by `tasks.checks.validation.prepare_frame`: the fields as
written plus derived columns (`<field>__int`: the value when it is an integer, else
null; `arch__text`: the arch when it is a string). The derived columns let range,
uniqueness and grammar rules run without tripping over values of the wrong type, which
the type rules report on their own."""

from __future__ import annotations

from typing import Literal

import great_expectations as gx
import great_expectations.expectations as gxe

from schemas.search_space import ARCH_FIELD, ARCH_REGEX, KEY_COLUMN, RANK_FIELDS

FileKind = Literal["train", "test", "submission"]
FILE_KINDS: tuple[str, ...] = ("train", "test", "submission")

INT_SUFFIX = "__int"
ARCH_TEXT = "arch__text"
EXPECTED_KEY = "expected__key"
EXPECTED_ARCH = "expected__arch"


def int_column(field: str) -> str:
    return field + INT_SUFFIX


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


def _arch_rules() -> list:
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
        gxe.ExpectColumnValuesToBeUnique(
            column=ARCH_TEXT, meta=_rule("no duplicate arch", ARCH_FIELD)
        ),
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


def build_expectations(kind: FileKind, n_rows: int) -> list:
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


def build_suite(kind: FileKind, n_rows: int) -> gx.ExpectationSuite:
    """The suite for one file kind; `n_rows` is the file's row count (the test file's
    for a submission)."""
    return gx.ExpectationSuite(
        name=f"ufo_{kind}_suite", expectations=build_expectations(kind, n_rows)
    )
