"""Files written whole or not at all: a temporary file beside the target, renamed over it.

Temporary files are named `.<name>.ufo-tmp-<pid>-<random>`; one whose writer process is
gone is stale, and removed by the next run writing beside it. Disk and permission errors
the user can fix become one OutputError."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tasks.errors import OutputError
from tasks.files import atomic

TEMP_MARK = ".ufo-tmp-"


def temp_prefix(path: Path) -> str:
    return f".{path.name}{TEMP_MARK}{os.getpid()}-"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    return _create_exclusive(Path(path).parent, atomic.temp_prefix(Path(path)))


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one step,
    on any error it is removed and `path` is left as it was."""
    path = Path(path)
    tmp = None
    try:
        with atomic.user_fixable_write_errors(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            # A recognisable name with our pid: a later run removes it if we are killed.
            # Mode 0666 at creation, so the kernel applies the umask (mkstemp's 0600 would
            # need a chmod, and reading the umask means changing it under other threads).
            tmp = create_temp_beside(path)
        yield tmp
        with atomic.user_fixable_write_errors(path):
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    with atomic_target(path) as tmp, atomic.user_fixable_write_errors(path):
        tmp.write_bytes(payload)
