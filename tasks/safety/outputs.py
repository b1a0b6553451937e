"""Outputs checked before any work and written like a submission, for every command that
writes files: `ufo search` (a report folder), `ufo propose`, `ufo measure-latency` and
`ufo fit-latency` (files).

Before any work (`check_file_outputs`, `check_report_output`; one ParameterError, one
line, every problem): the output can be written (its folder exists or can be made, a
file can be created there, room for it: writable.py); it is not a folder, device, FIFO,
socket or symlink; it is none of the command's inputs, and no two outputs of one command
are one file (same resolved path, or os.path.samefile); and unless `replace_any`
(--force), whatever is there was written by ufo (its sha256 is in the ledger). Leftovers
of killed runs in the output folder are removed then.

Writing (`write_outputs` for files, tasks/safety/reports.py for a report folder): every
file is staged whole beside its target first, so a failure while staging replaces
nothing; the same checks are made again just before the replace; the ledger records the
new digests; then each file replaces its target in one rename."""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path

from tasks.errors import OutputError, ParameterError
from tasks.files import atomic
from tasks.safety import ledger, reports, writable

REPLACE_HINT_DEPLOYMENT = "a deployment run replaces only outputs ufo wrote; choose another path"
REPLACE_HINT_CLI = "give --force to replace it anyway, or choose another path"
# A latency table or measurements file is a few KB; a search report about 200 KB.
FILE_BYTES = 1 << 20
REPORT_BYTES = 16 << 20

Paths = dict[str, "str | Path | None"]


def _given(labelled: Paths) -> dict[str, Path]:
    return {k: Path(v).expanduser() for k, v in labelled.items() if v is not None and v != ""}


def same_file(a: Path, b: Path) -> bool:
    """One file under two names: the same path after symlinks and `..`, or (both
    existing) the same inode, as a hard link is."""
    with contextlib.suppress(OSError):
        if os.path.samefile(a, b):
            return True
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _kind_problem(label: str, path: Path) -> str | None:
    """Regular files only: a symlink would be replaced by a file, a device by a file (as
    root), a folder not at all."""
    if path.is_symlink():
        kind = "a symbolic link"
    else:
        kind = atomic.special_file_kind(path)
    if kind is None:
        return None
    return f"{label} {path} is {kind}, not a regular file; choose another path"


def _file_problem(label: str, path: Path, *, replace_any: bool, hint: str) -> str | None:
    kind = _kind_problem(label, path)
    if kind is not None or not os.path.lexists(path):
        return kind
    if replace_any or ledger.written_by_project(path):
        return None
    return f"{label} {path} exists and was not written by ufo; {hint}"


def _overlap_problems(outputs: list[tuple[str, Path]], inputs: dict[str, Path]) -> list[str]:
    """Two outputs that are one file, and outputs that are an input."""
    problems = []
    for i, (label, path) in enumerate(outputs):
        for other, other_path in outputs[i + 1 :]:
            if same_file(path, other_path):
                problems.append(f"{label} and {other} are one file ({path}); give two paths")
        for name, input_path in inputs.items():
            if same_file(path, input_path):
                problems.append(
                    f"{label} {path} is the {name} file, an input of this command; "
                    "choose another path"
                )
    return problems


def _raise(problems: list[str | None]) -> None:
    problems = [p for p in problems if p]
    if problems:
        raise ParameterError("; ".join(problems))


def check_file_outputs(
    outputs: Paths,
    *,
    inputs: Paths | None = None,
    replace_any: bool,
    hint: str = REPLACE_HINT_CLI,
    expected_bytes: int = FILE_BYTES,
) -> None:
    """Before any work: every given output (label -> path; None: not asked for) can be
    written and may be replaced (module docstring). Raises one ParameterError."""
    given, given_inputs = _given(outputs), _given(inputs or {})
    problems: list[str | None] = _overlap_problems(list(given.items()), given_inputs)
    for label, path in given.items():
        problems.append(writable.output_problem(label, path, expected_bytes))
        problems.append(_file_problem(label, path, replace_any=replace_any, hint=hint))
    _raise(problems)


def check_report_output(
    out_dir: str | Path,
    report_files: tuple[str, ...],
    *,
    inputs: Paths | None = None,
    replace_any: bool,
    hint: str = REPLACE_HINT_CLI,
    expected_bytes: int = REPORT_BYTES,
    label: str = "report folder",
) -> None:
    """Before any work: the report folder `out_dir` can receive the report `report_files`
    (a folder or none yet, writable, room, symbolic links possible), none of its names is
    an input, and unless `replace_any` each name is absent or ufo's. Removes what killed
    report writers left there. Raises one ParameterError."""
    out_dir = Path(out_dir).expanduser()
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        _raise([f"{label} {out_dir} is a file; give a folder for the report"])
    problems: list[str | None] = _overlap_problems(
        [("report file", out_dir / name) for name in report_files], _given(inputs or {})
    )
    problems.append(writable.folder_problem(label, out_dir, expected_bytes))
    if not any(problems):
        problems.append(reports.symlinks_supported(writable.nearest_existing(out_dir)))
    if out_dir.is_dir():
        reports.clean_report_folder(out_dir)
        problems += reports.folder_problems(
            out_dir, report_files, replace_any=replace_any, hint=hint
        )
    _raise(problems)


def write_outputs(
    payloads: dict[Path, bytes], *, replace_any: bool, hint: str = REPLACE_HINT_CLI
) -> None:
    """Write each path's bytes, all or none: every file is staged (written whole and
    fsynced beside its target) before any is replaced, the checks of check_file_outputs
    are made again, the ledger records each digest, then each file is renamed over its
    target. A failure before the first rename replaces nothing (and says so)."""
    problems = _overlap_problems([("output", Path(p)) for p in payloads], {})
    if problems:
        raise OutputError("; ".join(problems) + "; nothing was replaced")
    staged: dict[Path, Path] = {}
    try:
        for path, payload in payloads.items():
            path = Path(path)
            with atomic.user_fixable_write_errors(path):
                atomic.make_parents(path)
                staged[path] = atomic.create_temp_beside(path)
                with open(staged[path], "wb") as handle:
                    handle.write(payload)
                    handle.flush()
                    os.fsync(handle.fileno())
        problems = [_file_problem("output", p, replace_any=replace_any, hint=hint) for p in staged]
        if any(problems):
            raise OutputError("; ".join(p for p in problems if p) + "; nothing was replaced")
        for path, payload in payloads.items():
            with atomic.user_fixable_write_errors(Path(path)):
                ledger.record_written(Path(path), hashlib.sha256(payload).hexdigest())
        _replace_all(staged)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


def _replace_all(staged: dict[Path, Path]) -> None:
    replaced: list[Path] = []
    for path, tmp in staged.items():
        try:
            os.replace(tmp, path)
        except OSError as exc:
            if not replaced:
                with atomic.user_fixable_write_errors(path):
                    raise
            done = ", ".join(str(p) for p in replaced)
            raise OutputError(
                f"could not write {path}: {exc.strerror}; {done} was replaced already"
            ) from None
        replaced.append(path)
