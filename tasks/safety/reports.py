"""A report of several files (the search's picks, front and plot) made visible as one unit.

Layout of a report folder DIR (the user reads DIR/<name> as always):

    DIR/picks.json -> .report/picks.json   one relative symlink per report name
    DIR/.report    -> .report-<digest>     the current version, a relative symlink
    DIR/.report-<digest>/picks.json ...    the files themselves, never changed once there
    DIR/.ufo-written.json                  the ledger: the sha256 of every file ufo wrote

Opening DIR/picks.json resolves DIR/.report at that moment, so at every instant all the
report's names show one version: the one `.report` points to, which is complete before it
is pointed to. (The same design as Kubernetes' AtomicWriter for ConfigMap volumes.) A reader
that reads several files and must get one version for all of them opens them through
`os.path.realpath(DIR / ".report")` once.

Writing a report (`staged_report`), and what a reader sees meanwhile:

1. Staging, with no lock held: the files are written into DIR/.report-staging-<pid>-<rand>/
   and fsynced. Nothing refers to that folder: readers see the old report (or none).
2. Under an exclusive lock on DIR (flock, released if the process dies; a concurrent
   writer waits here, so two runs into one DIR commit one after the other and the last
   one's report is the one left, whole):
   a. leftovers of killed runs are removed: staging folders whose pid is dead, version
      folders `.report` does not point to, temporary symlinks whose pid is dead, and the
      `.staging-*` folders of older ufo versions (after an hour). Invisible to readers.
   b. unless `replace_any`, every name is checked again: absent, or holding what the
      ledger says ufo wrote; a folder, device or foreign symlink is refused whatever
      `replace_any` says. A refusal changes nothing.
   c. the current version's files that this report does not write (another command's
      report in the same folder: `ufo propose` beside `ufo search`) are linked into the
      staging folder, which is then renamed .report-<digest> (still referred to by nothing).
   d. the ledger records the new files' digests, keeping the old ones: a kill between d
      and f leaves a ledger that allows both the old and the new files.
   e. only when some name is not yet one of our symlinks (a first report, or a folder
      written by an older ufo or by hand): a version holding exactly what readers see
      now is made from hard links (copies where links fail) and `.report` is pointed at
      it, then each such name is replaced by its symlink. Each of these steps changes
      no name's content: readers still see the old report.
   f. a new symlink to .report-<digest> is renamed over DIR/.report: the single step at
      which every name switches from the old report to the new one.
   g. the old version folder is removed (a reader who resolved `.report` just before f
      and opens a file only now gets "no such file": it reads again).

A kill -9 at any point therefore leaves the old report or the new one, never a mix, plus
leftovers the next run removes (2a, also run by the output check before any work,
`clean_report_folder`). Every rename goes through `_rename`, which the tests slow down
to kill the writer at each step."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from tasks.errors import OutputError
from tasks.files import atomic
from tasks.safety import ledger

CURRENT = ".report"
VERSION_PREFIX = ".report-"
STAGING_PREFIX = ".report-staging-"
_VERSION = re.compile(r"^\.report-[0-9a-f]{16}$")
_STAGING = re.compile(r"^\.report-staging-(\d+)-[0-9a-f]+$")
# Older ufo versions staged in `.staging-<mkdtemp suffix>`, without their pid.
_LEGACY_STAGING = re.compile(r"^\.staging-[A-Za-z0-9_]{8}$")
LEGACY_STAGING_AGE_S = 3600


def _rename(source: Path, target: Path) -> None:
    """Every rename of a commit (the tests replace this to kill the writer between them)."""
    os.replace(source, target)


def _link_target(name: str) -> str:
    return f"{CURRENT}/{name}"


def _is_our_link(path: Path, name: str) -> bool:
    return path.is_symlink() and os.readlink(path) == _link_target(name)


def current_version(out_dir: Path) -> str | None:
    """The version folder's name `.report` points to, or None (no report in our layout)."""
    link = Path(out_dir) / CURRENT
    if not link.is_symlink():
        return None
    target = os.readlink(link)
    return target if _VERSION.match(target) else None


def _sha256(path: Path) -> str | None:
    return atomic.sha256_file(path) if path.is_file() else None


def _digest(files: dict[str, str | None]) -> str:
    lines = "".join(f"{name} {sha}\n" for name, sha in sorted(files.items()) if sha)
    return hashlib.sha256(lines.encode()).hexdigest()[:16]


def name_problem(out_dir: Path, name: str, *, replace_any: bool, hint: str) -> str | None:
    """Why the report name DIR/`name` may not be replaced, or None."""
    path = Path(out_dir) / name
    if not os.path.lexists(path):
        return None
    if path.is_symlink() and not _is_our_link(path, name):
        return f"report file {path} exists and is a symbolic link ufo did not make; choose another folder"
    kind = atomic.special_file_kind(path)
    if kind is not None:
        return f"report file {path} exists and is {kind}, not a file; choose another folder"
    if replace_any or not path.exists() or ledger.written_by_project(path):
        return None  # (a dangling symlink of ours: a name the current version lacks)
    return f"report file {path} exists and was not written by ufo; {hint}"


def folder_problems(
    out_dir: Path, names: tuple[str, ...], *, replace_any: bool, hint: str
) -> list[str]:
    """Every reason the report folder may not receive a new report of `names`."""
    out_dir = Path(out_dir)
    link = out_dir / CURRENT
    problems = []
    if os.path.lexists(link) and current_version(out_dir) is None:
        problems.append(f"{link} exists and is not ufo's report link; choose another folder")
    problems += [name_problem(out_dir, n, replace_any=replace_any, hint=hint) for n in names]
    return [p for p in problems if p]


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _remove_leftovers(out_dir: Path, keep: tuple[str, ...] = ()) -> list[str]:
    """Step 2a, under the folder's lock: what killed runs left behind."""
    current = current_version(out_dir)
    removed = []
    for entry in list(out_dir.iterdir()):
        name = entry.name
        if name in keep or entry.is_symlink() or not entry.is_dir():
            continue
        staging = _STAGING.match(name)
        stale = (
            (staging is not None and not atomic.pid_alive(int(staging.group(1))))
            or (_VERSION.match(name) is not None and name != current)
            or (
                _LEGACY_STAGING.match(name) is not None
                and time.time() - entry.stat().st_mtime > LEGACY_STAGING_AGE_S
            )
        )
        if stale:
            _remove_tree(entry)
            removed.append(name)
    removed += [p.name for p in atomic.remove_stale_temps(out_dir)]
    return removed


def clean_report_folder(out_dir: Path) -> list[str]:
    """Remove what killed report writers left in `out_dir` (a no-op for a new folder);
    returns the names removed."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return []
    with ledger.locked_folder(out_dir):
        return _remove_leftovers(out_dir)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_staging(out_dir: Path) -> Path:
    for _ in range(100):
        staging = out_dir / f"{STAGING_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            staging.mkdir()
        except FileExistsError:
            continue
        return staging
    raise FileExistsError(f"no free staging name in {out_dir}")


def _seal(staging: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    """fsync the staged files and the folder; their digests by name (None: not staged)."""
    digests = {}
    for name in names:
        path = staging / name
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
        digests[name] = _sha256(path)
    _fsync_folder(staging)
    return digests


def _install_version(out_dir: Path, staging: Path, digests: dict[str, str | None]) -> str:
    """Step c: the staged folder becomes .report-<digest>; returns that name."""
    version = f"{VERSION_PREFIX}{_digest(digests)}"
    if version == current_version(out_dir):
        _remove_tree(staging)  # the same files are current already
        return version
    if (out_dir / version).exists():  # left by a killed run: the same name, unreferenced
        _remove_tree(out_dir / version)
    _rename(staging, out_dir / version)
    return version


def _replace_with_symlink(path: Path, target: str) -> None:
    """Make `path` a symlink to `target` in one rename, from a temporary symlink named
    with our pid (removed by a later run if we are killed before the rename)."""
    for _ in range(100):
        link = path.parent / f"{atomic.temp_prefix(path)}{secrets.token_hex(4)}"
        try:
            os.symlink(target, link)  # fails if the name exists: never someone else's
        except FileExistsError:
            continue
        break
    else:
        raise FileExistsError(f"no free temporary name for {path}")
    try:
        _rename(link, path)
    finally:
        if link.is_symlink():
            link.unlink()


def _point_current(out_dir: Path, version: str) -> None:
    """Steps e and f: DIR/.report -> version, in one rename."""
    _replace_with_symlink(out_dir / CURRENT, version)


def _visible(out_dir: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    return {name: _sha256(out_dir / name) for name in names}


def _version_files(out_dir: Path, names: tuple[str, ...]) -> dict[str, str | None]:
    version = current_version(out_dir)
    if version is None:
        return dict.fromkeys(names)
    return {name: _sha256(out_dir / version / name) for name in names}


def _adopt_names(out_dir: Path, names: tuple[str, ...]) -> None:
    """Step e: every name becomes our symlink, without changing what any name shows."""
    if all(_is_our_link(out_dir / name, name) for name in names):
        return
    if _visible(out_dir, names) != _version_files(out_dir, names):
        snapshot = _new_staging(out_dir)
        for name in names:
            visible = out_dir / name
            if visible.is_file():
                try:
                    os.link(visible.resolve(), snapshot / name)
                except OSError:  # no hard links here, or not ours to link
                    shutil.copy2(visible, snapshot / name)
        _point_current(out_dir, _install_version(out_dir, snapshot, _seal(snapshot, names)))
    for name in names:
        if not _is_our_link(out_dir / name, name):
            _replace_with_symlink(out_dir / name, _link_target(name))


def _carry_over(
    out_dir: Path, old: str | None, staging: Path, names: tuple[str, ...]
) -> dict[str, str | None]:
    """The current version's files that this report does not write (another command's
    report in the same folder: a search's picks beside ufo propose's proposals), linked
    into the staged version so that their names keep showing them; their digests."""
    if old is None or not (out_dir / old).is_dir():
        return {}
    carried = {}
    for entry in sorted((out_dir / old).iterdir()):
        if entry.name in names or not entry.is_file():
            continue
        try:
            os.link(entry, staging / entry.name)
        except OSError:  # no hard links here
            shutil.copy2(entry, staging / entry.name)
        carried[entry.name] = _sha256(staging / entry.name)
    if carried:
        _fsync_folder(staging)
    return carried


def _commit(
    out_dir: Path, staging: Path, names: tuple[str, ...], *, replace_any: bool, hint: str
) -> None:
    digests = _seal(staging, names)
    with ledger.locked_folder(out_dir):
        _remove_leftovers(out_dir, keep=(staging.name,))
        problems = folder_problems(out_dir, names, replace_any=replace_any, hint=hint)
        if problems:
            raise OutputError("; ".join(problems) + "; nothing was replaced")
        old = current_version(out_dir)
        carried = _carry_over(out_dir, old, staging, names)
        version = _install_version(out_dir, staging, {**carried, **digests})
        ledger.record_written_locked(out_dir, {n: d for n, d in digests.items() if d})
        _adopt_names(out_dir, names)
        before = current_version(out_dir)
        if before != version:
            _point_current(out_dir, version)
        _fsync_folder(out_dir)
        for stale in {old, before} - {version, None}:
            _remove_tree(out_dir / stale)


@contextlib.contextmanager
def staged_report(
    out_dir: Path, names: tuple[str, ...], *, replace_any: bool, hint: str
) -> Iterator[Path]:
    """Yield a staging folder; write the report's files `names` into it. When the block
    ends without error they replace the report in `out_dir` as one unit (module
    docstring); on any error, or a refusal (`replace_any` False and a name holding a file
    ufo did not write), the old report stays and the staging folder is removed. A name
    of `names` not written in the staging folder is absent from the new report; the
    current version's files outside `names` (another command's report in the same
    folder) are carried into the new version unchanged."""
    out_dir = Path(out_dir)
    staging = None
    try:
        with atomic.user_fixable_write_errors(out_dir):
            atomic.make_parents(out_dir / CURRENT)
            staging = _new_staging(out_dir)
        yield staging
        with atomic.user_fixable_write_errors(out_dir):
            _commit(out_dir, staging, tuple(names), replace_any=replace_any, hint=hint)
    finally:
        if staging is not None and staging.exists():
            _remove_tree(staging)


def symlinks_supported(folder: Path) -> str | None:
    """None if a symlink can be made in `folder` (the report's layout needs them), else why."""
    probe = folder / f".symlink-probe{atomic.TEMP_MARK}{os.getpid()}-{secrets.token_hex(4)}"
    try:
        os.symlink(CURRENT, probe)
    except OSError as exc:
        if exc.errno in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS):
            return f"cannot make a symbolic link in {folder} ({exc.strerror})"
        raise
    probe.unlink()
    return None
