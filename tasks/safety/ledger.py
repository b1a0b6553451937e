"""Which outputs the project wrote.

A ledger, `.ufo-written.json` in each folder the project writes outputs to, records the
sha256 of every output it wrote there. A file may be replaced by a deployment run (and
by `ufo run` without --force) only if its bytes still match the ledger."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tasks.files.atomic import sha256_file, temp_prefix

LEDGER_NAME = ".ufo-written.json"
KEEP_DIGESTS = 2  # the new digest is recorded before the replace, the old one kept until then


@contextlib.contextmanager
def locked_folder(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (no lock file to leave behind), released when
    the block ends or the process dies. Not reentrant: flock locks belong to an open file,
    so a second lock of the same folder in the same process waits forever; inside the
    block, record with record_written_locked."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _read_ledger(folder: Path) -> dict[str, list[str]]:
    try:
        entries = json.loads((folder / LEDGER_NAME).read_text())
    except (OSError, ValueError):
        return {}
    if not isinstance(entries, dict):
        return {}
    return {k: v for k, v in entries.items() if isinstance(v, list)}


def record_written(path: Path, digest: str) -> None:
    """Note that the project wrote `digest` to `path` (call before the replace)."""
    path = Path(path)
    with locked_folder(path.parent):
        record_written_locked(path.parent, {path.name: digest})


def record_written_locked(folder: Path, digests: dict[str, str]) -> None:
    """record_written for several names of `folder`, by a caller holding locked_folder(folder).

    The digest of the file now in place is kept next to the new one when the ledger knows
    it: a writer killed between recording and replacing, twice in a row, must not leave a
    file ufo wrote that the ledger no longer allows."""
    folder = Path(folder)
    entries = _read_ledger(folder)
    for name, digest in digests.items():
        known = entries.get(name, [])
        in_place = sha256_file(folder / name) if known and (folder / name).is_file() else None
        first = [digest, *([in_place] if in_place in known and in_place != digest else [])]
        entries[name] = [*first, *(d for d in known if d not in first)][:KEEP_DIGESTS]
    fd, tmp = tempfile.mkstemp(prefix=temp_prefix(folder / LEDGER_NAME), dir=folder)
    try:
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle, indent=1, sort_keys=True)
        os.replace(tmp, folder / LEDGER_NAME)
    finally:
        Path(tmp).unlink(missing_ok=True)


def written_by_project(path: Path) -> bool:
    path = Path(path)
    digests = _read_ledger(path.parent).get(path.name)
    return bool(digests) and path.is_file() and sha256_file(path) in digests


def replace_problem(label: str, path: Path, hint: str) -> str | None:
    """Why `path` may not be replaced, or None: it does not exist yet, or the project
    wrote it and nobody changed it since."""
    path = Path(path)
    if not os.path.lexists(path):
        return None
    if path.is_symlink() or not path.is_file():
        return f"{label} {path} exists and is not a regular file; {hint}"
    if written_by_project(path):
        return None
    return f"{label} {path} exists and was not written by ufo; {hint}"
