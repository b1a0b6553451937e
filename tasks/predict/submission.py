"""From per-task scores to the competition's submission format."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS, TASKS
from tasks.files import atomic, writing
from tasks.safety import ledger


def scores_to_ranks(scores: np.ndarray) -> np.ndarray:
    """Ranks 0..N-1 (higher score -> higher rank, as in the training labels). Ties keep
    file order, so the same scores always give the same ranks."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or infinity")
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[order] = np.arange(len(scores))
    return ranks


def assemble_submission(
    test_frame: pd.DataFrame, scores_by_task: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Test keys and archs in file order (shared with the test frame, not copied), plus
    one int64 rank column per task."""
    missing = [t for t in TASKS if t not in scores_by_task]
    if missing:
        raise ValueError(f"scores missing for tasks {missing}")
    columns = {KEY_COLUMN: test_frame[KEY_COLUMN], ARCH_FIELD: test_frame[ARCH_FIELD]}
    for task, field in zip(TASKS, RANK_FIELDS, strict=True):
        scores = scores_by_task[task]
        if len(scores) != len(test_frame):
            raise ValueError(f"{task}: {len(scores)} scores for {len(test_frame)} test archs")
        columns[field] = pd.Series(scores_to_ranks(scores), index=test_frame.index)
    return pd.DataFrame(columns)


def write_staged_submission(
    out: Path, submission: pd.DataFrame, check: Callable[[Path], None]
) -> dict:
    """Write the submission to a temporary file beside `out` and run `check` on that file:
    the bytes that pass the check are the bytes that later replace `out`
    (commit_staged_submission). On any failure the temporary file is removed and `out` is
    untouched. Returns the staged file's path, size and sha256."""
    out = Path(out)
    with atomic.user_fixable_write_errors(out):
        out.parent.mkdir(parents=True, exist_ok=True)
        staged = atomic.create_temp_beside(out)
    try:
        with atomic.user_fixable_write_errors(out), open(staged, "wb") as handle:
            digest, size = writing.write_frame_to(handle, submission)
            handle.flush()
            os.fsync(handle.fileno())
        check(staged)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    return {"staged": str(staged), "path": str(out), "bytes": size, "sha256": digest}


def commit_staged_submission(staged: dict) -> dict:
    """Record the checked bytes in the output ledger, then move them over `out` in one
    step (a kill in between leaves the old file and a ledger that also allows it)."""
    out, tmp = Path(staged["path"]), Path(staged["staged"])
    try:
        with atomic.user_fixable_write_errors(out):
            ledger.record_written(out, staged["sha256"])
            os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return {k: staged[k] for k in ("path", "bytes", "sha256")}
