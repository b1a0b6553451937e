"""Reading and writing competition JSON files.

Problems a DataFrame cannot show (not JSON, not an object, an entry that is not an
object, a duplicate JSON key, NaN, booleans as ranks) are caught here; everything else
is left to the Great Expectations suites so one report lists all problems."""

from __future__ import annotations

import codecs
import gc
import hashlib
import json
import math
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS
from tasks import outputs

MAX_EXAMPLES = 5


class InputFileError(ValueError):
    """A competition file that cannot be read as the competition format."""


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
    competition_fields = {ARCH_FIELD, *RANK_FIELDS}
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
    """Read a competition JSON file; return its rows and the sha256 of its bytes.

    A well-formed file (every entry has exactly the arch and the eight ranks, as a string
    and integers) is streamed in blocks into compact columns, so memory follows the
    columns, not Python objects for every value (a million archs: about 150 MB instead of
    several GB). Anything else is read by the strict whole-file parser, whose errors name
    the file, the entry and the field, and whose object columns show the suites every
    value exactly as written."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: no such file")
    streamed = _stream_well_formed(path)
    if streamed is not None:
        return streamed
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    frame = records_to_frame(parse_competition_json(text, source=str(path)))
    return frame, hashlib.sha256(raw).hexdigest()


# ---- streaming: well-formed files in blocks -------------------------------------------

_READ_BLOCK = 1 << 20  # bytes read (and parsed) at a time
_MAX_ITEM_CHARS = 1 << 16  # no entry of a competition file is longer


class _NotWellFormed(Exception):
    """The streaming reader met something only the strict parser may judge."""


_FIELD_ORDER = (*RANK_FIELDS, ARCH_FIELD)  # as this project writes them
_FIELD_TYPES = (int,) * len(RANK_FIELDS) + (str,)


def _well_formed_entry(pairs: list[tuple[str, object]]) -> tuple:
    """(rank, ..., arch) of an entry with exactly the competition fields, well typed.
    Fast for the field order this project writes; any other order is reordered."""
    fields, values = zip(*pairs, strict=True) if pairs else ((), ())
    if fields != _FIELD_ORDER:
        entry = dict(pairs)
        if len(pairs) != len(_FIELD_ORDER) or entry.keys() != set(_FIELD_ORDER):
            raise _NotWellFormed
        values = tuple(entry[field] for field in _FIELD_ORDER)
    if tuple(map(type, values)) != _FIELD_TYPES:  # bool, float, None... are not int or str
        raise _NotWellFormed
    return values


def _block_hook(pairs: list[tuple[str, object]]) -> object:
    """Entries become tuples; the block's top level (every value such a tuple) stays a list."""
    if pairs and type(pairs[0][1]) is tuple and all(type(v) is tuple for _, v in pairs):
        return pairs
    return _well_formed_entry(pairs)


def string_series(values: pa.Array | pa.ChunkedArray | list) -> pd.Series:
    """Strings as pandas' Arrow-backed `str` dtype: one buffer, not one object per value.
    Blocks are combined into one chunk: pandas filters (as the suites do, hundreds of
    times) a thousand-chunk column several times slower than a single-chunk one."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return pd.Series(pd.array(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan)))


class _Columns:
    """Blocks of parsed entries packed into Arrow strings and int64 ranks."""

    def __init__(self) -> None:
        self.key_parts: list[pa.Array] = []
        self.arch_parts: list[pa.Array] = []
        self.rank_parts: list[np.ndarray] = []

    def add(self, keys: list[str], ranks: np.ndarray, archs: list[str] | pa.Array) -> None:
        """One block: keys, ranks of shape (8, n) in RANK_FIELDS order, archs."""
        self.rank_parts.append(ranks)
        self.key_parts.append(pa.array(keys, type=pa.large_string()))
        self.arch_parts.append(pa.array(archs, type=pa.large_string()))

    def frame(self) -> pd.DataFrame:
        if not self.rank_parts:
            raise _NotWellFormed  # no archs: the strict parser says so
        columns = {
            KEY_COLUMN: string_series(pa.chunked_array(self.key_parts, pa.large_string())),
            ARCH_FIELD: string_series(pa.chunked_array(self.arch_parts, pa.large_string())),
        }
        for j, field in enumerate(RANK_FIELDS):  # one column at a time: one extra copy at most
            ranks = np.concatenate([part[j] for part in self.rank_parts])
            columns[field] = pd.Series(ranks, copy=False)
        self.rank_parts = []
        return pd.DataFrame(columns, copy=False)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Parsing allocates millions of short-lived tuples and creates no reference cycles;
    each allocation burst set off a full cyclic collection that walked every object of the
    process (with GX imported, a million-arch read took 20-30 % longer)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _stream_well_formed(path: Path) -> tuple[pd.DataFrame, str] | None:
    """The frame and sha256 of a well-formed competition file, read in blocks; None as
    soon as anything is off (the strict parser then reads the file and explains)."""
    digest = hashlib.sha256()
    decode = codecs.getincrementaldecoder("utf-8")("strict").decode
    blocks = _BlockSplitter()
    columns = _Columns()
    try:
        with open(path, "rb") as handle, _cyclic_gc_paused():
            while True:
                raw = handle.read(_READ_BLOCK)
                digest.update(raw)
                for body in blocks.feed(decode(raw, final=not raw), last=not raw):
                    columns.add(*_parse_block(body))
                if not raw:
                    break
        frame = columns.frame()
    except (_NotWellFormed, ValueError, RecursionError):  # JSONDecodeError, UnicodeDecodeError
        return None
    keys = frame[KEY_COLUMN].array.__arrow_array__()
    if len(pc.unique(keys)) != len(keys):  # in Arrow: no Python string per key
        return None  # the strict parser names the repeated key
    return frame, digest.hexdigest()


# One entry exactly as this project (and json.dumps with ", "/": " separators) writes it.
# Strings: no quote, backslash or control character, except a key may hold escapes.
_KEY = r'"([^"\\\x00-\x1f]*(?:\\.[^"\\\x00-\x1f]*)*)"'  # unrolled: fast without escapes
_ENTRY_TEXT = (
    _KEY
    + ": \\{"
    + ", ".join(f'"{field}": (-?(?:0|[1-9][0-9]*))' for field in RANK_FIELDS)
    + f', "{ARCH_FIELD}": "([^"\\\\\\x00-\\x1f]*)"\\}}'
)
# An entry, then ", " before the next key or the end of the run: matches that add up to
# the run's whole length tile it, which proves the run is exactly entries and separators.
_ITEM = re.compile(_ENTRY_TEXT + r'(, (?=")|\Z)')
_ITEM_FIXED_CHARS = len(
    '"": {' + ", ".join(f'"{field}": ' for field in RANK_FIELDS) + f', "{ARCH_FIELD}": ""}}'
)


def _parse_block(body: str) -> tuple:
    """Keys, ranks (8, n) and archs of a run of whole items. The layout this project
    writes is read by one regular-expression pass; any other layout goes through the
    JSON parser with per-entry checks."""
    items = _ITEM.findall(body)
    if items:
        keys, *ranks, archs, separators = zip(*items, strict=True)
        covered = len(items) * _ITEM_FIXED_CHARS + sum(
            sum(map(len, column)) for column in (keys, *ranks, archs, separators)
        )
        if covered == len(body):
            return _block_columns(keys, ranks, archs, escaped="\\" in body)
    pairs = json.loads("{" + body + "}", object_pairs_hook=_block_hook)
    if type(pairs) is not list:  # e.g. `{}` or a lone entry
        raise _NotWellFormed
    keys, rows = zip(*pairs, strict=True)
    *ranks, archs = zip(*rows, strict=True)
    try:
        numbers = np.array(ranks, dtype=np.int64)
    except OverflowError:  # an integer beyond int64: the strict path reports it
        raise _NotWellFormed from None
    return list(keys), numbers, list(archs)


def _block_columns(keys, ranks, archs, escaped: bool) -> tuple:
    """Columns from the regular expression's text groups: escaped keys decoded (only a
    block holding a backslash can have any), rank digits parsed by Arrow."""
    if escaped:
        keys = [json.loads(f'"{key}"') if "\\" in key else key for key in keys]
    try:
        numbers = np.array([pa.array(column).cast(pa.int64()).to_numpy() for column in ranks])
    except pa.ArrowInvalid:  # beyond int64: the strict path reports it
        raise _NotWellFormed from None
    return keys, numbers, archs


_AFTER_ENTRY = re.compile(r"[ \t\n\r]*,[ \t\n\r]*\"")


class _BlockSplitter:
    """Cuts `{"key": {entry}, "key": {entry}, ...}` fed in pieces into runs of whole
    items, at a `}` followed by `,` and the next key's quote. Such a cut cannot fall inside
    a string: a `"` preceded by whitespace inside a string would end it, so a wrong cut
    leaves an unterminated string, which fails to parse (and the strict parser takes over)."""

    def __init__(self) -> None:
        self.text = ""
        self.opened = False

    def feed(self, piece: str, last: bool) -> list[str]:
        text = self.text + piece
        if not self.opened:
            stripped = text.lstrip(" \t\n\r")
            if not stripped:
                if last:
                    raise _NotWellFormed
                self.text = ""
                return []
            if stripped[0] != "{":
                raise _NotWellFormed
            text, self.opened = stripped[1:], True
        if last:  # the rest, closing brace included, must parse as the final run
            self.text = ""
            body = text.rstrip(" \t\n\r")
            if not body.endswith("}"):
                raise _NotWellFormed
            return [body[:-1]]
        cut = self._last_cut(text)
        if cut is None:
            if len(text) > _READ_BLOCK + _MAX_ITEM_CHARS:
                raise _NotWellFormed  # no entry of a competition file is this long
            self.text = text
            return []
        end_of_item, next_key = cut
        self.text = text[next_key:]
        return [text[:end_of_item]]

    @staticmethod
    def _last_cut(text: str) -> tuple[int, int] | None:
        stop = len(text)
        while (brace := text.rfind("}", 0, stop)) >= 0:
            after = _AFTER_ENTRY.match(text, brace + 1)
            if after:
                return brace + 1, after.end() - 1
            stop = brace
        return None


def frame_to_records(frame: pd.DataFrame) -> dict[str, dict]:
    """Competition format from a frame with `key`, `arch` and the eight rank columns;
    ranks become plain ints, fields in the competition's order."""
    out: dict[str, dict] = {}
    rank_values = {f: [int(x) for x in frame[f].tolist()] for f in RANK_FIELDS}
    for i, (key, arch) in enumerate(
        zip(frame[KEY_COLUMN].tolist(), frame[ARCH_FIELD].tolist(), strict=True)
    ):
        entry = {f: rank_values[f][i] for f in RANK_FIELDS}
        entry[ARCH_FIELD] = arch
        out[key] = entry
    return out


def _create_exclusive(folder: Path, prefix: str) -> Path:
    """Create a new empty file `folder/prefix<random>` (never an existing one)."""
    for _ in range(100):
        candidate = folder / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name for {prefix}* in {folder}")


def create_temp_beside(path: Path) -> Path:
    """A new empty temporary file beside `path`, with the recognisable name (our pid) that
    lets a later run remove it if we are killed."""
    return _create_exclusive(Path(path).parent, outputs.temp_prefix(Path(path)))


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one step,
    on any error it is removed and `path` is left as it was."""
    path = Path(path)
    tmp = None
    try:
        with outputs.user_fixable_write_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            # A recognisable name with our pid: a later run removes it if we are killed.
            # Mode 0666 at creation, so the kernel applies the umask (mkstemp's 0600 would
            # need a chmod, and reading the umask means changing it under other threads).
            tmp = create_temp_beside(path)
        yield tmp
        with outputs.user_fixable_write_errors(path):
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    with atomic_target(path) as tmp, outputs.user_fixable_write_errors(path):
        tmp.write_bytes(payload)


def dump_competition_json(records: dict[str, dict]) -> bytes:
    """Deterministic bytes for a competition file (same records -> same bytes)."""
    return json.dumps(records, ensure_ascii=False, indent=None, separators=(", ", ": ")).encode(
        "utf-8"
    )


_ENTRY_FORMAT = (
    "%s: {" + ", ".join(f'"{field}": %d' for field in RANK_FIELDS) + f', "{ARCH_FIELD}": %s}}'
)


def competition_json_blocks(frame: pd.DataFrame) -> Iterator[bytes]:
    """The bytes of dump_competition_json(frame_to_records(frame)), block by block: memory
    stays at one block whatever the number of rows. Strings are escaped exactly as
    json.dumps escapes them (ensure_ascii off)."""
    quote = json.encoder.encode_basestring  # what json.dumps uses with ensure_ascii=False
    if frame.empty:
        yield b"{}"
        return
    for start in range(0, len(frame), _ROWS_PER_WRITE):
        part = frame.iloc[start : start + _ROWS_PER_WRITE]
        columns = [map(quote, part[KEY_COLUMN].tolist())]
        columns += [part[field].tolist() for field in RANK_FIELDS]
        columns.append(map(quote, part[ARCH_FIELD].tolist()))
        entries = ", ".join(_ENTRY_FORMAT % row for row in zip(*columns, strict=True))
        yield (("{" if start == 0 else ", ") + entries).encode("utf-8")
    yield b"}"


_ROWS_PER_WRITE = 1 << 15


def write_frame_to(handle, frame: pd.DataFrame) -> tuple[str, int]:
    """Write the frame's competition JSON to an open binary file; its sha256 and size."""
    digest, size = hashlib.sha256(), 0
    for block in competition_json_blocks(frame):
        handle.write(block)
        digest.update(block)
        size += len(block)
    return digest.hexdigest(), size


def write_competition_frame(path: Path, frame: pd.DataFrame) -> str:
    """Write a frame (key, arch, the eight ranks) as a competition file, streamed and
    atomic; return the sha256 of the written bytes."""
    with atomic_target(path) as tmp, outputs.user_fixable_write_errors(path):
        with open(tmp, "wb") as handle:
            digest, _ = write_frame_to(handle, frame)
    return digest


def write_competition_file(path: Path, records: dict[str, dict]) -> str:
    """Write atomically; return the sha256 of the written bytes."""
    payload = dump_competition_json(records)
    write_bytes_atomic(path, payload)
    return hashlib.sha256(payload).hexdigest()
