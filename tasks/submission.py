"""From per-task scores to the competition's submission format."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS, TASKS


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
    """Test keys and archs in file order, plus one rank column per task."""
    missing = [t for t in TASKS if t not in scores_by_task]
    if missing:
        raise ValueError(f"scores missing for tasks {missing}")
    out = pd.DataFrame(
        {
            KEY_COLUMN: test_frame[KEY_COLUMN].astype(object).to_numpy(),
            ARCH_FIELD: test_frame[ARCH_FIELD].astype(object).to_numpy(),
        }
    )
    for task, field in zip(TASKS, RANK_FIELDS, strict=True):
        scores = scores_by_task[task]
        if len(scores) != len(out):
            raise ValueError(f"{task}: {len(scores)} scores for {len(out)} test archs")
        out[field] = pd.Series(scores_to_ranks(scores).tolist(), dtype=object)
    return out
