"""Training files of one's own measurements: CSV reading, and what a train frame measures.

A training file may give each task as the competition's rank (`<task>_rank`, an integer,
0 = best) or as a measured metric (`<task>_score`, a finite number, higher = better), and
any entry may lack any task (not evaluated on it). JSON in the competition's shape is read
by reading.py; CSV is read here into the same records (`arch`, one column per task field,
an empty cell = not measured, an optional `key` column, else keys `row1`, `row2`, ... for
the data rows in order). The rules a measurement file must follow are a Great Expectations
suite (schemas/suites.py, kind "measurements")."""

from __future__ import annotations

import csv
import io
import re

import numpy as np
import pandas as pd

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS, SCORE_FIELDS, TASKS
from tasks.errors import InputFileError

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _cell_value(field: str, cell: str) -> object:
    """A cell as the JSON reader would hold it: ranks as int, scores as float (NaN and
    infinity included, for the suite to refuse by name), anything unreadable as its text
    (the suite's type rule shows it), the arch and unknown fields as written."""
    text = cell.strip()
    if field in RANK_FIELDS and _INTEGER.fullmatch(text):
        return int(text)
    if field in SCORE_FIELDS:
        try:
            return float(text)
        except ValueError:
            return cell
    return cell


def _header(row: list[str], source: str) -> list[str]:
    names = [name.strip() for name in row]
    for position, name in enumerate(names, start=1):
        if not name:
            raise InputFileError(f"{source}: line 1: column {position} of the header has no name")
        if names.index(name) != position - 1:
            raise InputFileError(f"{source}: line 1: column {name!r} appears more than once")
    if ARCH_FIELD not in names:
        raise InputFileError(
            f"{source}: line 1: no {ARCH_FIELD!r} column (expected {ARCH_FIELD!r} and one column "
            f"per task field, e.g. {RANK_FIELDS[0]!r} or {SCORE_FIELDS[0]!r})"
        )
    return names


def parse_measurements_csv(text: str, source: str = "<input>") -> dict[str, dict]:
    """Records keyed by entry, as parse_competition_json gives them: each entry holds the
    fields whose cell is not empty. Errors name the file and the line."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        rows = [(reader.line_num, row) for row in reader if row]
    except csv.Error as exc:
        raise InputFileError(f"{source}: line {reader.line_num}: not valid CSV ({exc})") from None
    if not rows:
        raise InputFileError(f"{source}: the file is empty (expected a header row)")
    names = _header(rows[0][1], source)
    records: dict[str, dict] = {}
    first_line: dict[str, int] = {}
    for number, (line, row) in enumerate(rows[1:], start=1):
        if len(row) != len(names):
            raise InputFileError(
                f"{source}: line {line}: {len(row)} cells, the header has {len(names)}"
            )
        cells = dict(zip(names, row, strict=True))
        key = cells.pop(KEY_COLUMN).strip() if KEY_COLUMN in cells else f"row{number}"
        if not key:
            raise InputFileError(f"{source}: line {line}: the {KEY_COLUMN!r} cell is empty")
        if key in records:
            raise InputFileError(
                f"{source}: line {line}: entry {key!r} appears more than once "
                f"(first on line {first_line[key]}; each key must appear once)"
            )
        first_line[key] = line
        records[key] = {f: _cell_value(f, c) for f, c in cells.items() if c.strip()}
    if not records:
        raise InputFileError(f"{source}: the file holds no archs (only a header row)")
    return records


def given(column: pd.Series) -> np.ndarray:
    """Which entries give a value in `column` (absent or null: not measured). A NaN is a
    value given, which the suite refuses as not finite."""
    if column.dtype != object:
        return column.notna().to_numpy()
    return np.fromiter((value is not None for value in column), dtype=bool, count=len(column))


def task_fields(frame: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per task, the fields that give it in some entry and in how many entries, rank field
    first: one field for a well-formed file, two when a task mixes ranks and scores, and
    its rank field with 0 when no entry measures the task."""
    layout = {}
    for task, fields in zip(TASKS, zip(RANK_FIELDS, SCORE_FIELDS, strict=True), strict=True):
        counts = {f: int(given(frame[f]).sum()) for f in fields if f in frame}
        layout[task] = {f: n for f, n in counts.items() if n} or {fields[0]: 0}
    return layout


def is_competition_layout(frame: pd.DataFrame) -> bool:
    """Every entry gives every task's rank and no entry a score: the competition's own
    training layout, checked and read exactly as before measurement files existed."""
    if any(f in frame and given(frame[f]).any() for f in SCORE_FIELDS):
        return False
    return all(f in frame and bool(given(frame[f]).all()) for f in RANK_FIELDS)


def ranks_from_scores(scores: np.ndarray) -> np.ndarray:
    """Ranks 0..m-1 from measured scores: the highest score gets rank 0 (the best).
    Equal scores are ranked in file order, the earlier entry better, so the ranks are a
    permutation (what a ranks file must give) and the same file always gives the same ranks."""
    scores = np.asarray(scores, dtype=np.float64)
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity")
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    return ranks
