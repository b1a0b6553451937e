"""Reading well-formed competition files in blocks, into compact Arrow-backed columns.

Only this project's own layout (and json.dumps's) is streamed; anything unusual makes
`stream_well_formed` return None, and the strict parser in reading.py reads the file and
names the problem."""

from __future__ import annotations

import codecs
import gc
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS
from tasks import cancellation

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


def stream_well_formed(path: Path) -> tuple[pd.DataFrame, str] | None:
    """The frame and sha256 of a well-formed competition file, read in blocks; None as
    soon as anything is off (the strict parser then reads the file and explains)."""
    digest = hashlib.sha256()
    decode = codecs.getincrementaldecoder("utf-8")("strict").decode
    blocks = _BlockSplitter()
    columns = _Columns()
    try:
        with open(path, "rb") as handle, _cyclic_gc_paused():
            while True:
                cancellation.check()  # Ctrl-C: a million-arch file is read in ~100 blocks
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
