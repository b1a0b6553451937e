"""Where deployment runs may read and write.

Anyone who can reach the Prefect API can trigger a deployment with any parameters, and the
run executes as the user who serves the deployments. So paths given to deployment runs
must resolve (after symlinks and `..`) inside the allowed roots: the project's data folder
by default, or the folders listed in UFO_ALLOWED_ROOTS (os.pathsep-separated), read by
the serve process. `ufo` commands typed by the user are not confined. Whether a run is a deployment run is
asked of Prefect by tasks/steps/common.py (`in_deployment_run`) and passed here as `confined`."""

from __future__ import annotations

import os
from pathlib import Path

from tasks import paths
from tasks.safety import ledger, outputs, reports, writable

ROOTS_ENV = "UFO_ALLOWED_ROOTS"
# Set by deploy/serve.py, inherited by every flow run it executes.
CONFINED_ENV = "UFO_CONFINED"


def allowed_roots() -> list[Path]:
    """The folders deployment paths must resolve into, resolved themselves."""
    raw = os.environ.get(ROOTS_ENV, "")
    roots = [Path(p).expanduser() for p in raw.split(os.pathsep) if p.strip()]
    return [root.resolve() for root in (roots or [paths.data_dir()])]


def outside_roots(labelled: dict[str, str | Path | None], roots: list[Path]) -> list[str]:
    """One problem per path that does not resolve inside a root (unset paths are skipped)."""
    problems = []
    for label, value in labelled.items():
        if value is None or value == "":
            continue
        resolved = Path(value).expanduser().resolve()
        if not any(resolved.is_relative_to(root) for root in roots):
            problems.append(f"{label} {value} is outside the folders deployment runs may use")
    if problems:
        where = ", ".join(str(r) for r in roots)
        problems.append(f"allowed: {where} (set {ROOTS_ENV} before `make serve` to change them)")
    return problems


def require_inside_roots(labelled: dict[str, str | Path | None]) -> None:
    """Refuse, before any file is touched, paths of a deployment run outside the roots."""
    from tasks.errors import ParameterError

    problems = outside_roots(labelled, allowed_roots())
    if problems:
        raise ParameterError("; ".join(problems))


# The hints live with the output checks (outputs.py); kept here for this module's callers.
REPLACE_HINT_DEPLOYMENT = outputs.REPLACE_HINT_DEPLOYMENT
REPLACE_HINT_CLI = outputs.REPLACE_HINT_CLI


def check_submission_output(out: Path, test: Path, *, replace_any: bool, hint: str) -> None:
    """Before any work: the submission can be written (folder, permission, free space), and
    an existing file there is one ufo wrote (unless `replace_any`)."""
    from tasks.errors import ParameterError

    problems = [
        writable.output_problem("output", out, writable.expected_submission_bytes(test)),
        None if replace_any else ledger.replace_problem("output", out, hint),
    ]
    problems = [p for p in problems if p]
    if problems:
        raise ParameterError("; ".join(problems))


def check_report_folder(out: Path, report_files: tuple[str, ...]) -> None:
    """A deployment's search report may replace only report files ufo wrote (in the
    report's layout, tasks/safety/reports.py: DIR/<name> is a symlink into it)."""
    from tasks.errors import ParameterError

    problems = reports.folder_problems(
        Path(out), report_files, replace_any=False, hint=REPLACE_HINT_DEPLOYMENT
    )
    if problems:
        raise ParameterError("; ".join(problems))
