"""Writing competition JSON files: deterministic bytes, streamed in blocks, atomic."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS
from tasks import cancellation
from tasks.files import atomic
from tasks.files.atomic import atomic_target, write_bytes_atomic


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
        # Ctrl-C between blocks: the writers' temporary file is then removed, the
        # previous file stays as it was.
        cancellation.check()
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
    with atomic_target(path) as tmp, atomic.user_fixable_write_errors(path):
        with open(tmp, "wb") as handle:
            digest, _ = write_frame_to(handle, frame)
    return digest


def write_competition_file(path: Path, records: dict[str, dict]) -> str:
    """Write atomically; return the sha256 of the written bytes."""
    payload = dump_competition_json(records)
    write_bytes_atomic(path, payload)
    return hashlib.sha256(payload).hexdigest()
