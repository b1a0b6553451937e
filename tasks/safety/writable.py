"""Checks made before any work: the output's folder exists or can be created, a file can
be created there, and the disk has room for an estimate of the output's size."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tasks.files.atomic import TEMP_MARK, remove_stale_temps, temp_prefix


def nearest_existing(folder: Path) -> Path:
    """`folder` itself if it exists, else its nearest existing ancestor."""
    folder = Path(folder).expanduser().absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def output_problem(label: str, path: Path, expected_bytes: int) -> str | None:
    """Whether `path` can be written: its folder exists or can be created, a file can be
    created there, and the disk has room for `expected_bytes`. Cleans stale temps."""
    path = Path(path).expanduser()
    return _room_problem(label, path, path.parent.absolute(), temp_prefix(path), expected_bytes)


def folder_problem(label: str, folder: Path, expected_bytes: int) -> str | None:
    """output_problem for a folder of outputs: it exists or can be created, files can be
    created in it, and it has room for `expected_bytes`. Cleans stale temps there."""
    folder = Path(folder).expanduser()
    return _room_problem(
        label, folder, folder.absolute(), f".probe{TEMP_MARK}{os.getpid()}-", expected_bytes
    )


def _room_problem(
    label: str, shown: Path, wanted: Path, prefix: str, expected_bytes: int
) -> str | None:
    folder = nearest_existing(wanted)
    if not folder.is_dir():
        return f"{label} {shown}: {folder} is not a folder"
    try:
        fd, probe = tempfile.mkstemp(prefix=prefix, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{label} {shown}: cannot write in {folder} ({exc.strerror or exc})"
    if folder == wanted:
        remove_stale_temps(folder)
    free = shutil.disk_usage(folder).free
    if free < expected_bytes:
        return (
            f"{label} {shown}: not enough free space in {folder} "
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
