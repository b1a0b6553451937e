"""Output files: which ones the project wrote, checks made before the work, stale temps.

- A ledger, `.ufo-written.json` in each folder the project writes outputs to, records the
  sha256 of every output it wrote there. A file may be replaced by a deployment run (and
  by `ufo run` without --force) only if its bytes still match the ledger.
- Before any fit, the output's folder must exist or be creatable, be writable, and have
  room for an estimate of the output's size.
- Temporary files are named `.<name>.ufo-tmp-<pid>-<random>`; one whose writer process is
  gone is stale, and removed by the next run writing beside it."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

LEDGER_NAME = ".ufo-written.json"
TEMP_MARK = ".ufo-tmp-"
KEEP_DIGESTS = 2  # the new digest is recorded before the replace, the old one kept until then


class OutputError(Exception):
    """An output that cannot be written (read-only or full disk, no such folder)."""


def temp_prefix(path: Path) -> str:
    return f".{path.name}{TEMP_MARK}{os.getpid()}-"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@contextlib.contextmanager
def _locked_folder(folder: Path) -> Iterator[None]:
    """An exclusive lock on the folder itself (no lock file to leave behind)."""
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
    folder = path.parent
    with _locked_folder(folder):
        entries = _read_ledger(folder)
        previous = [d for d in entries.get(path.name, []) if d != digest]
        entries[path.name] = [digest, *previous][:KEEP_DIGESTS]
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


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TEMP_PID = re.compile(re.escape(TEMP_MARK) + r"(\d+)-")


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove our temporary files in `folder` whose writing process is gone."""
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if TEMP_MARK in p.name]
    except OSError:
        return removed
    for candidate in candidates:
        match = _TEMP_PID.search(candidate.name)
        if match and candidate.is_file() and not _pid_alive(int(match.group(1))):
            with contextlib.suppress(OSError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _nearest_existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def output_problem(label: str, path: Path, expected_bytes: int) -> str | None:
    """Whether `path` can be written: its folder exists or can be created, a file can be
    created there, and the disk has room for `expected_bytes`. Cleans stale temps."""
    path = Path(path).expanduser()
    folder = _nearest_existing(path.parent.absolute())
    if not folder.is_dir():
        return f"{label} {path}: {folder} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=temp_prefix(path), dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{label} {path}: cannot write in {folder} ({exc.strerror or exc})"
    if folder == path.parent.absolute():
        remove_stale_temps(folder)
    free = shutil.disk_usage(folder).free
    if free < expected_bytes:
        return (
            f"{label} {path}: not enough free space in {folder} "
            f"({_size(free)} free, about {_size(expected_bytes)} needed)"
        )
    return None


def expected_submission_bytes(test_file: Path) -> int:
    """A submission is its test file with filled-in ranks: about 1.3x its size at most."""
    try:
        size = Path(test_file).stat().st_size
    except OSError:
        size = 0
    return int(size * 1.5) + (1 << 20)


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


# Errors of the disk or its permissions, which the user fixes; any other OSError is a bug.
_USER_FIXABLE = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.EIO,
    errno.ENOTDIR,
    errno.EISDIR,
    errno.EFBIG,
}


@contextlib.contextmanager
def user_fixable_write_errors(path: Path) -> Iterator[None]:
    """Turn a full disk, a read-only disk or a permission error into one clear OutputError."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in _USER_FIXABLE:
            raise
        raise OutputError(f"could not write {path}: {exc.strerror}; nothing was replaced") from None
