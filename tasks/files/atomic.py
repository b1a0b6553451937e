"""Files written whole or not at all: a temporary file beside the target, renamed over it.

Temporary files are named `.<name>.ufo-tmp-<pid>-<random>`; one whose writer process is
gone is stale, and removed by the next run writing beside it (temporary symlinks, which
tasks/safety/reports.py renames into place, too). A target that exists and is not a
regular file (a device such as /dev/full, a folder, a FIFO) is never replaced. Disk and
permission errors the user can fix become one OutputError."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import stat
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


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_TEMP_PID = re.compile(re.escape(TEMP_MARK) + r"(\d+)-")


def remove_stale_temps(folder: Path) -> list[Path]:
    """Remove our temporary files and symlinks in `folder` whose writing process is gone."""
    removed = []
    try:
        candidates = [p for p in Path(folder).iterdir() if TEMP_MARK in p.name]
    except OSError:
        return removed
    for candidate in candidates:
        match = _TEMP_PID.search(candidate.name)
        ours = candidate.is_symlink() or candidate.is_file()
        if match and ours and not pid_alive(int(match.group(1))):
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


def make_parents(path: Path) -> None:
    """Create `path`'s folder and its missing parents; a file in the way is one OutputError."""
    folder = Path(path).parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        blocking = folder
        while not blocking.exists() and blocking != blocking.parent:
            blocking = blocking.parent
        raise OutputError(
            f"could not write {path}: {blocking} is not a folder; nothing was replaced"
        ) from None


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


def special_file_kind(path: Path) -> str | None:
    """What `path` is when it exists and is not a regular file (nor a symlink), else None."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return None
    kinds = (
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((kind for test, kind in kinds if test(mode)), None)


def refuse_special_target(path: Path) -> None:
    """A device, folder, FIFO or socket is never replaced by a file (as root, os.replace
    would swap /dev/full for a regular file)."""
    kind = special_file_kind(path)
    if kind is not None:
        raise OutputError(f"could not write {path}: it is {kind}, not a file; nothing was replaced")


@contextmanager
def atomic_target(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one step,
    on any error it is removed and `path` is left as it was."""
    path = Path(path)
    refuse_special_target(path)
    tmp = None
    try:
        with atomic.user_fixable_write_errors(path):
            make_parents(path)
            # A recognisable name with our pid: a later run removes it if we are killed.
            # Mode 0666 at creation, so the kernel applies the umask (mkstemp's 0600 would
            # need a chmod, and reading the umask means changing it under other threads).
            tmp = create_temp_beside(path)
        yield tmp
        with atomic.user_fixable_write_errors(path):
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            refuse_special_target(path)  # again: it may have appeared meanwhile
            os.replace(tmp, path)
    finally:
        if tmp is not None:
            tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: Path, payload: bytes) -> None:
    with atomic_target(path) as tmp, atomic.user_fixable_write_errors(path):
        tmp.write_bytes(payload)
