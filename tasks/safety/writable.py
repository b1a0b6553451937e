"""Checks made before any work: the output's folder exists or can be created, a file can
be created there, and the disk has room for an estimate of the output's size."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tasks.files.atomic import remove_stale_temps, temp_prefix


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
