"""Run the Great Expectations suites on a competition frame and report readably."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from schemas.search_space import (
    ARCH_FIELD,
    KEY_COLUMN,
    RANK_FIELDS,
    SCORE_FIELDS,
    explain_arch_error,
)
from schemas.suites import (
    ARCH_TEXT,
    EXPECTED_ARCH,
    EXPECTED_KEY,
    MEASUREMENTS,
    FileKind,
    Layout,
    build_suite,
    finite_column,
    given_column,
    int_column,
)
from tasks.events import event
from tasks.files.measurements import given, is_competition_layout, task_fields

logger = logging.getLogger(__name__)
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class RuleResult:
    rule: str
    field: str
    expectation: str
    success: bool
    unexpected_count: int = 0
    examples: list[tuple[str, object]] = field(default_factory=list)
    detail: str = ""


@dataclass(frozen=True)
class ValidationReport:
    kind: str
    source: str
    n_rows: int
    results: list[RuleResult]
    suite: str = ""  # "measurements" for a train file not in the competition's layout

    @property
    def success(self) -> bool:
        return all(r.success for r in self.results)

    @property
    def failures(self) -> list[RuleResult]:
        return [r for r in self.results if not r.success]

    def to_text(self) -> str:
        """The file, then per broken rule its field, what was expected, how many entries
        broke it and, for a few of them, the entry key and the value found."""
        read_as = ", read as measurements" if self.suite == MEASUREMENTS else ""
        head = (
            f"{self.source} ({self.kind} file{read_as}, {self.n_rows} entries): "
            f"{len(self.results) - len(self.failures)}/{len(self.results)} rules passed"
        )
        lines = [head]
        for failure in self.failures:
            line = f"  FAILED [{failure.field}] expected: {failure.rule}"
            if failure.unexpected_count:
                count = failure.unexpected_count
                line += f"; {count} bad {'entry' if count == 1 else 'entries'}"
            if failure.detail:
                line += f" ({failure.detail})"
            lines.append(line)
            lines += [f"      {describe_example(failure, k, v)}" for k, v in failure.examples]
        return "\n".join(lines)

    def to_table(self) -> list[dict]:
        return [
            {
                "rule": r.rule,
                "field": r.field,
                "status": "passed" if r.success else "FAILED",
                "bad entries": r.unexpected_count,
                "examples": "; ".join(describe_example(r, k, v) for k, v in r.examples) or r.detail,
            }
            for r in self.results
        ]


def describe_example(failure: RuleResult, key: str, value: object) -> str:
    """One bad entry: its key, the field and the value found (and, for an arch, which
    part of the grammar it breaks)."""
    if value is None:
        return f"entry {key!r}: no {failure.field}"
    if failure.expectation == "expect_table_columns_to_match_set" and isinstance(value, dict):
        return "; ".join(f"entry {key!r}: unknown field {n!r} = {v!r}" for n, v in value.items())
    text = f"entry {key!r}: {failure.field} = {value!r}"
    if failure.field == ARCH_FIELD and failure.expectation == "expect_column_values_to_match_regex":
        reason = explain_arch_error(value)
        if reason:
            text += f" ({reason})"
    return text


class ValidationFailed(ValueError):
    """The input broke one or more rules; the report names each."""

    def __init__(self, report: ValidationReport):
        super().__init__(report.to_text())
        self.report = report


def _as_int(value: object) -> object:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _arch_text(prepared: pd.DataFrame) -> pd.Series:
    """The arch where it is a string, else null (the Arrow column as it is)."""
    if ARCH_FIELD not in prepared:
        return pd.Series([None] * len(prepared), dtype=object)
    if isinstance(prepared[ARCH_FIELD].dtype, pd.StringDtype):
        return prepared[ARCH_FIELD]
    arch = prepared[ARCH_FIELD]
    return pd.Series([a if isinstance(a, str) else None for a in arch], dtype=object)


def _int_values(values: pd.Series) -> pd.Series:
    """The values that are integers, else null (an int64 column as it is)."""
    if values.dtype == np.int64:
        return values
    return pd.to_numeric(pd.Series([_as_int(v) for v in values], dtype=object), errors="coerce")


def prepare_frame(
    frame: pd.DataFrame, kind: FileKind, reference: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Add the derived columns the suites check (see schemas.suites). Columns the reader
    already holds compactly (Arrow strings, int64 ranks) are their own derived columns,
    shared, not copied: a million-row frame costs no more to check than to hold."""
    prepared = frame.copy(deep=False)  # copy-on-write: the new columns never reach `frame`
    n = len(prepared)
    prepared[ARCH_TEXT] = _arch_text(prepared)
    for f in RANK_FIELDS:
        values = prepared[f] if f in prepared else pd.Series([None] * n, dtype=object)
        prepared[int_column(f)] = _int_values(values)
    if kind == "submission":
        if reference is None:
            raise ValueError("validating a submission needs the test file it answers")
        for column, source in ((EXPECTED_KEY, KEY_COLUMN), (EXPECTED_ARCH, ARCH_FIELD)):
            expected = reference[source].iloc[:n].reset_index(drop=True)
            if len(expected) < n:  # more entries than the test file: nothing to expect
                expected = pd.concat(
                    [
                        expected.astype(object),
                        pd.Series([None] * (n - len(expected)), dtype=object),
                    ],
                    ignore_index=True,
                )
            prepared[column] = expected.set_axis(prepared.index)
    return prepared


def _is_finite_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any float: not a usable score
        return False


def prepare_measurements(frame: pd.DataFrame, layout: Layout) -> pd.DataFrame:
    """The measurements suite's frame: the task fields the layout names (a field no entry
    gives is dropped: the JSON reader holds every rank field), the other fields as
    written, and the derived columns (see schemas.suites)."""
    used = [f for counts in layout.values() for f in counts]
    unused = [f for f in (*RANK_FIELDS, *SCORE_FIELDS) if f in frame and f not in used]
    prepared = frame.drop(columns=unused)  # a new frame: the columns added never reach `frame`
    prepared[ARCH_TEXT] = _arch_text(prepared)
    for name in used:
        if name not in prepared:  # no entry gives the task: the suite says so
            prepared[name] = pd.Series([None] * len(prepared), dtype=object)
        mask = given(prepared[name])
        prepared[given_column(name)] = mask.astype(np.int64)
        if name in RANK_FIELDS:
            prepared[int_column(name)] = _int_values(prepared[name])
        else:
            finite = [
                _is_finite_number(v) if m else None
                for v, m in zip(prepared[name], mask, strict=True)
            ]
            prepared[finite_column(name)] = pd.Series(finite, dtype=object)
    return prepared


_GX_LOCK = threading.Lock()


def _skip_gx_fingerprint() -> None:
    """GX fingerprints every in-memory batch smaller than its HASH_THRESHOLD (1 GB, as
    counted without the strings) by hashing every cell: 70 % of the suite's time on 300,000
    rows here. The fingerprint only labels batch markers, which nothing here reads."""
    from great_expectations.execution_engine import pandas_execution_engine

    if hasattr(pandas_execution_engine, "HASH_THRESHOLD"):
        pandas_execution_engine.HASH_THRESHOLD = 0


def _run_suite(prepared: pd.DataFrame, kind: FileKind, n_rows: int, layout: Layout | None = None):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _skip_gx_fingerprint()

    # GX's ephemeral context set-up is not documented as thread-safe; validations are
    # quick, so concurrent flows simply take turns.
    with _GX_LOCK:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        batch_definition = (
            context.data_sources.add_pandas(f"ufo_{kind}")
            .add_dataframe_asset(kind)
            .add_batch_definition_whole_dataframe("whole")
        )
        batch = batch_definition.get_batch(batch_parameters={"dataframe": prepared})
        return batch.validate(
            build_suite(kind, n_rows, layout),
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES},
        )


def _exception_detail(result) -> str:
    info = result.exception_info or {}
    if "exception_message" in info:  # flat shape
        return str(info.get("exception_message") or "")
    messages = [
        v.get("exception_message")
        for v in info.values()
        if isinstance(v, dict) and v.get("exception_message")
    ]
    return "; ".join(str(m) for m in messages)


class _Keys:
    """Entry keys by row position, looked up only for the few examples a report shows."""

    def __init__(self, column: pd.Series):
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, row: int) -> str:
        return str(self.column.iloc[row])


def _to_rule_result(result, keys: _Keys, prepared: pd.DataFrame) -> RuleResult:
    config = result.expectation_config
    meta = config.meta or {}
    field_name = meta.get("field", config.kwargs.get("column", "*"))
    body = result.result or {}
    examples: list[tuple[str, object]] = []
    column = config.kwargs.get("column") or config.kwargs.get("column_A")
    source_column = field_name if field_name in prepared.columns else column
    for index in (body.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]:
        key = keys[index] if isinstance(index, int) and index < len(keys) else str(index)
        value = prepared[source_column].iloc[index] if source_column in prepared.columns else None
        examples.append((key, value))
    detail = ""
    if not result.success and config.type == "expect_table_columns_to_match_set":
        observed = set(body.get("observed_value") or [])
        expected = set(config.kwargs.get("column_set") or [])
        unknown, missing = sorted(observed - expected), sorted(expected - observed)
        for name in unknown:  # the entries that hold an unknown field
            rows = [i for i, value in enumerate(prepared[name]) if value is not None]
            examples += [(keys[i], {name: prepared[name].iloc[i]}) for i in rows[:MAX_EXAMPLES]]
        detail = "; ".join(
            p
            for p in (
                f"unknown fields {unknown}" if unknown else "",
                f"missing fields {missing}" if missing else "",
            )
            if p
        )
    elif not result.success and config.type == "expect_table_row_count_to_equal":
        detail = (
            f"found {body.get('observed_value')} entries, expected {config.kwargs.get('value')}"
        )
    elif not result.success and config.type == "expect_column_sum_to_be_between":
        detail = f"measured on {body.get('observed_value')} entries"
    elif not result.success and not body:
        detail = _exception_detail(result) or "the rule could not be evaluated"
    return RuleResult(
        rule=meta.get("rule", config.type),
        field=field_name,
        expectation=config.type,
        success=bool(result.success),
        unexpected_count=int(body.get("unexpected_count") or 0),
        examples=examples,
        detail=detail,
    )


def validate_frame(
    frame: pd.DataFrame,
    kind: FileKind,
    source: str = "<input>",
    reference: pd.DataFrame | None = None,
) -> ValidationReport:
    """Check a frame from tasks.files.reading.read_competition_file against the suite for `kind`.
    A submission is checked against `reference`, the test file it answers. A train file
    not in the competition's layout (some entry lacks a task, or a task is given as a
    score) is checked as measurements."""
    n_rows = len(reference) if kind == "submission" and reference is not None else len(frame)
    suite, layout = kind, None
    if kind == "train" and not is_competition_layout(frame):
        suite, layout = MEASUREMENTS, task_fields(frame)
        prepared = prepare_measurements(frame, layout)
    else:
        prepared = prepare_frame(frame, kind, reference)
    outcome = _run_suite(prepared, suite, n_rows, layout)
    keys = _Keys(prepared[KEY_COLUMN])
    results = [_to_rule_result(r, keys, prepared) for r in outcome.results]
    # GX does not keep suite order; a stable order makes reports comparable.
    results.sort(key=lambda r: (r.success, r.field, r.rule))
    report = ValidationReport(
        kind=kind,
        source=source,
        n_rows=len(frame),
        results=results,
        suite=MEASUREMENTS if suite == MEASUREMENTS else "",
    )
    logger.info(
        "%s",
        report.to_text().splitlines()[0],
        extra=event(
            "validated",
            file_kind=kind,
            source=source,
            entries=len(frame),
            passed=len(results) - len(report.failures),
            rules=len(results),
        ),
    )
    return report


def require_valid(report: ValidationReport) -> ValidationReport:
    if not report.success:
        raise ValidationFailed(report)
    return report
