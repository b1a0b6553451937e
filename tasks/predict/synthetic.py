"""Data without the real files: a stand-in test file and a synthetic demo training file.

Stand-in test file: unique archs sampled as the training set was (depth uniform over
10/11/12, each layer's heads and mlp codes uniform; the real 500 archs fit this: depth
counts 176/160/164 and per-code shares within 1% of a third), excluding the training
archs, ranks all 0, keys arch1..archN as in the competition's test file.

Demo training file (SYNTHETIC, keys `synthetic-arch<i>`): a latent linear model on the
per-layer choices. Each task's score is a weighted mix of a shared quality factor and a
task-specific factor, plus Gaussian noise; the factors punish the smallest choices
(10 heads, mlp 3.0) most in early layers and reward depth. Mixing weights and noise are
set so a linear predictor reaches Kendall tau of the real file's order (about 0.3 for
the noisiest task, 0.7-0.9 for the others)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.search_space import (
    ARCH_FIELD,
    KEY_COLUMN,
    MAX_DEPTH,
    RANK_FIELDS,
    TASKS,
    choice_matrix,
    sample_archs,
)

DEMO_KEY_PREFIX = "synthetic-arch"
# (weight of the shared factor, weight of the task's own factor, noise sd) per task.
_DEMO_TASK_MIX: dict[str, tuple[float, float, float]] = {
    "cplfw": (0.3, 0.6, 1.6),
    "market1501": (1.0, 0.3, 0.35),
    "dukemtmc": (1.0, 0.25, 0.3),
    "msmt17": (1.0, 0.2, 0.25),
    "veri": (1.0, 0.3, 0.3),
    "vehicleid": (0.7, 0.5, 0.8),
    "veriwild": (1.0, 0.2, 0.25),
    "sop": (0.8, 0.5, 0.5),
}


def unique_new_archs(n: int, exclude: set[str], rng: np.random.Generator) -> list[str]:
    """`n` distinct archs not in `exclude`, in sampling order."""
    seen = set(exclude)
    out: list[str] = []
    while len(out) < n:
        for arch in sample_archs(max(1024, 2 * (n - len(out))), rng):
            if arch not in seen:
                seen.add(arch)
                out.append(arch)
                if len(out) == n:
                    break
    return out


def make_test_standin(train_archs: list[str], n: int, seed: int) -> pd.DataFrame:
    if n < 1:
        raise ValueError(f"the stand-in needs at least 1 arch, got {n}")
    archs = unique_new_archs(n, set(train_archs), np.random.default_rng(seed))
    frame = pd.DataFrame({KEY_COLUMN: [f"arch{i + 1}" for i in range(n)], ARCH_FIELD: archs})
    for field in RANK_FIELDS:
        frame[field] = 0
    return frame


def _layer_effects(rng: np.random.Generator) -> np.ndarray:
    """(12 layers, 2 dims, 4 codes) effect table; code 0 (absent layer) costs most."""
    decay = np.exp(-np.arange(MAX_DEPTH) / 4.0)[:, None, None]
    base = np.array([-0.5, 0.0, -0.15, -0.6])[None, None, :]
    jitter = rng.normal(0.0, 0.08, size=(MAX_DEPTH, 2, 4))
    effects = decay * (base + jitter)
    effects[:, :, 0] = np.array(
        [-0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.5, -0.25, -0.25]
    )[:, None]
    return effects


def latent_scores(archs: list[str], seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    choices = choice_matrix(archs).astype(np.int64)
    layers, dims = np.arange(MAX_DEPTH)[None, :, None], np.arange(2)[None, None, :]

    def factor(effects: np.ndarray) -> np.ndarray:
        values = effects[layers, dims, choices].sum(axis=(1, 2))
        return (values - values.mean()) / values.std()

    shared = factor(_layer_effects(rng))
    scores = {}
    for task in TASKS:
        w_shared, w_own, noise = _DEMO_TASK_MIX[task]
        own = factor(_layer_effects(rng))
        scores[task] = w_shared * shared + w_own * own + rng.normal(0.0, noise, size=len(archs))
    return scores


def make_demo_train(n: int = 500, seed: int = 0) -> pd.DataFrame:
    """A labelled SYNTHETIC training file (see the module docstring)."""
    if n < 10:
        raise ValueError(f"a demo training file needs at least 10 archs, got {n}")
    rng = np.random.default_rng(seed)
    archs = unique_new_archs(n, set(), rng)
    frame = pd.DataFrame(
        {KEY_COLUMN: [f"{DEMO_KEY_PREFIX}{i + 1}" for i in range(n)], ARCH_FIELD: archs}
    )
    scores = latent_scores(archs, seed)
    for task, field in zip(TASKS, RANK_FIELDS, strict=True):
        # Rank 0 is the best: the highest latent score. So bigger, deeper archs rank better
        # on the whole, as in the real file (params and rank: negative Kendall tau).
        order = np.argsort(-scores[task], kind="stable")
        ranks = np.empty(n, dtype=np.int64)
        ranks[order] = np.arange(n)
        frame[field] = ranks
    return frame
