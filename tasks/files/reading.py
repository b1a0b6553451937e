"""Reading competition JSON files (the strict whole-file parser; streaming.py reads
well-formed files in blocks), and training files of measurements (JSON here, CSV in
measurements.py).

Problems a DataFrame cannot show (not JSON, not an object, an entry that is not an
object, a duplicate JSON key, NaN, booleans as ranks) are caught here; everything else
is left to the Great Expectations suites so one report lists all problems."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import pandas as pd

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS, SCORE_FIELDS
from tasks.errors import InputFileError
from tasks.files.measurements import parse_measurements_csv
from tasks.files.streaming import stream_well_formed

MAX_EXAMPLES = 5


class _Duplicated(dict):
    """A JSON object that repeated a key (the last value wins); kept so the error can name
    the entry it happened in."""

    duplicates: list[str]


class _NonFinite:
    """What a NaN/Infinity literal parses to, so the entry and field holding it can be
    named once the whole file is parsed (json's hook does not know where it is)."""

    def __init__(self, literal: str):
        self.literal = literal

    def __repr__(self) -> str:
        return self.literal


def _pairs_noting_duplicates(pairs: list[tuple[str, object]]) -> dict:
    seen: dict = {}
    duplicates = []
    for key, value in pairs:
        if key in seen:
            duplicates.append(key)
        seen[key] = value
    if not duplicates:
        return seen
    marked = _Duplicated(seen)
    marked.duplicates = duplicates
    return marked


def _not_a_number(value: object) -> str | None:
    """How `value` (or anything nested in it) breaks "numbers are finite and not
    booleans", or None."""
    if isinstance(value, _NonFinite):
        return value.literal
    if isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, float) and not math.isfinite(value):  # e.g. 1e999 parses to inf
        return f"{value} (a number too large for a float)"
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return next((p for p in map(_not_a_number, value) if p is not None), None)
    return None


MAX_VALUE_DEPTH = 8


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value, without recursion (1 for a flat list)."""
    deepest, todo = 0, [(value, 0)]
    while todo:
        item, depth = todo.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            if deepest > MAX_VALUE_DEPTH:
                break
            todo.extend((v, depth + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _refuse_deep_values(data: object, source: str) -> None:
    """A field value nested deeper than any competition value could be is refused here, so
    no later step recurses through it (a depth bomb would exhaust Python's stack)."""
    if not isinstance(data, dict):
        return
    for key, entry in data.items():
        fields = entry.items() if isinstance(entry, dict) else [(None, entry)]
        for field, value in fields:
            if isinstance(value, dict | list) and _depth(value) > MAX_VALUE_DEPTH:
                where = f"entry {key!r}" + (f", field {field!r}" if field is not None else "")
                raise InputFileError(
                    f"{source}: {where}: a value nested more than {MAX_VALUE_DEPTH} levels deep, "
                    f"expected {_expected(field) if field is not None else 'an object'}"
                )


def _expected(field: str) -> str:
    if field in RANK_FIELDS:
        return "an integer rank"
    if field == ARCH_FIELD:
        return "a 37-character arch string"
    return "a finite number"


def _entry_problems(source: str, problems: list[tuple[str, str, str]]) -> str:
    """One message naming the file, then each entry, field, value and what was expected."""
    shown = [
        f"entry {key!r}, field {field!r}: {value} is not allowed, expected {_expected(field)}"
        for key, field, value in problems[:MAX_EXAMPLES]
    ]
    if len(problems) == 1:
        return f"{source}: {shown[0]}"
    more = f" (and {len(problems) - MAX_EXAMPLES} more)" if len(problems) > MAX_EXAMPLES else ""
    return f"{source}: {len(problems)} values are not allowed:\n  " + "\n  ".join(shown) + more


def parse_competition_json(text: str, source: str = "<input>") -> dict[str, dict]:
    """Strictly parse a competition file: an object of objects, no duplicate keys at any
    level, no NaN/Infinity, no booleans or non-finite floats as field values. Errors name
    the file and, where one is to blame, the entry and field."""
    try:
        data = json.loads(
            text, object_pairs_hook=_pairs_noting_duplicates, parse_constant=_NonFinite
        )
    except json.JSONDecodeError as exc:
        raise InputFileError(
            f"{source}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from None
    except RecursionError:  # json's C parser recurses once per nesting level
        raise InputFileError(
            f"{source}: JSON nested too deeply to read (a competition file has two levels)"
        ) from None
    _refuse_deep_values(data, source)
    if not isinstance(data, dict):
        kind = data.literal if isinstance(data, _NonFinite) else type(data).__name__
        raise InputFileError(f"{source}: the top level must be a JSON object of archs, got {kind}")
    if isinstance(data, _Duplicated):
        raise InputFileError(
            f"{source}: duplicate JSON key {data.duplicates[0]!r}: "
            f"entry {data.duplicates[0]!r} appears more than once (each key must appear once)"
        )
    if not data:
        raise InputFileError(f"{source}: the file holds no archs")
    not_objects = [k for k, v in data.items() if not isinstance(v, dict)]
    competition_fields = {ARCH_FIELD, *RANK_FIELDS, *SCORE_FIELDS}
    if not any(isinstance(v, dict) and competition_fields & v.keys() for v in data.values()):
        # Not a competition file at all (a config, a secrets file): say so without quoting
        # any of its keys or values, which would reach logs and artifacts.
        raise InputFileError(
            f"{source}: not a competition file: none of its {len(data)} entries is an object "
            f"with an {ARCH_FIELD!r} or a rank field (expected an object of archs, each with "
            f"{ARCH_FIELD!r} and the eight ranks)"
        )
    if not_objects:
        raise InputFileError(
            f"{source}: {len(not_objects)} entries are not JSON objects (expected an object "
            f"with the arch and the eight ranks), e.g. {not_objects[:MAX_EXAMPLES]}"
        )
    repeated = [(k, v.duplicates[0]) for k, v in data.items() if isinstance(v, _Duplicated)]
    if repeated:
        shown = "; ".join(
            f"entry {k!r}: field {f!r} appears more than once" for k, f in repeated[:MAX_EXAMPLES]
        )
        raise InputFileError(f"{source}: duplicate JSON key {repeated[0][1]!r}: {shown}")
    problems = [
        (key, field, problem)
        for key, entry in data.items()
        for field, value in entry.items()
        if (problem := _not_a_number(value)) is not None
    ]
    if problems:
        raise InputFileError(_entry_problems(source, problems))
    return data


def records_to_frame(data: dict[str, dict]) -> pd.DataFrame:
    """One row per arch in file order: `key`, `arch`, the rank fields and any unknown
    fields, all as Python objects so the suites see the values exactly as written."""
    fields: list[str] = [ARCH_FIELD, *RANK_FIELDS]
    for entry in data.values():
        for field in entry:
            if field not in fields:
                fields.append(field)
    columns = {KEY_COLUMN: pd.Series(list(data.keys()), dtype=object)}
    for field in fields:
        columns[field] = pd.Series([entry.get(field) for entry in data.values()], dtype=object)
    return pd.DataFrame(columns)


def read_competition_file(path: Path) -> tuple[pd.DataFrame, str]:
    """Read a competition JSON file, or a CSV file of measurements (by its `.csv` suffix);
    return its rows and the sha256 of its bytes.

    A well-formed file (every entry has exactly the arch and the eight ranks, as a string
    and integers) is streamed in blocks into compact columns, so memory follows the
    columns, not Python objects for every value (a million archs: about 150 MB instead of
    several GB). Anything else is read by the strict whole-file parser, whose errors name
    the file, the entry and the field, and whose object columns show the suites every
    value exactly as written."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        return _read_measurements_csv(path)
    streamed = stream_well_formed(path)
    if streamed is not None:
        return streamed
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    frame = records_to_frame(parse_competition_json(text, source=str(path)))
    return frame, hashlib.sha256(raw).hexdigest()


def _read_measurements_csv(path: Path) -> tuple[pd.DataFrame, str]:
    """A CSV file of measurements, into the frame the JSON reader gives."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # a spreadsheet's export may start with a BOM
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    frame = records_to_frame(parse_measurements_csv(text, source=str(path)))
    return frame, hashlib.sha256(raw).hexdigest()
