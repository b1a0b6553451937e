"""`ensemble` with one relevance scale for all eight tasks (issue 12).

The ensemble's two relevance-weighted members rescale the one-hot features by how much
each choice matters. There each task measures that alone, from its own ridge fit; here
the tasks pool it: per task t, ridge (alpha by exact LOO, as `ridge`) on the one-hot X and
the normal-score target of t gives coefficients W[:, t]; the scale is the root mean square
over tasks, sqrt(mean_t W[:, t]^2), divided by its mean. Computed once from the training
rows (`fit_shared`), it is the same for every task, so the relevance members' Gram
matrices are too, and their eigendecompositions are shared across tasks
(tasks/predict/predictors/eigh_cache.py). The other two members, the LOO choices, the z-scoring
and the equal weights are `ensemble`'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tasks.predict.predictors.ensemble import EnsemblePredictor, RelevanceKernelRidgeModel
from tasks.predict.predictors.interactions import INTERACTION_KERNELS
from tasks.predict.predictors.kernel_ridge import KernelRidgeModel
from tasks.predict.predictors.ridge import fit_ridge


@dataclass(frozen=True, eq=False)
class SharedRelevance:
    """The cross-task relevance scale of the one-hot features (mean 1), and the ridge
    alpha each task chose by LOO on the way."""

    scale: np.ndarray
    alphas: tuple[float, ...]

    def __str__(self) -> str:
        return (
            f"relevance scale over {len(self.alphas)} tasks "
            f"(min {self.scale.min():.3g}, max {self.scale.max():.3g})"
        )


def shared_relevance_scale(X: np.ndarray, targets: np.ndarray) -> SharedRelevance:
    """RMS over tasks of each feature's ridge coefficient, normalised to mean 1.
    `targets` holds one column per task (normal scores)."""
    weights, alphas = [], []
    for column in np.asarray(targets).T:
        w, _, alpha = fit_ridge(X, column)
        weights.append(w)
        alphas.append(alpha)
    rms = np.sqrt(np.mean(np.square(np.column_stack(weights)), axis=1))
    scale = rms / max(float(rms.mean()), 1e-12)
    scale.setflags(write=False)
    return SharedRelevance(scale, tuple(alphas))


class SharedRelevancePredictor(EnsemblePredictor):
    name = "shared_relevance"
    description = "ensemble whose two relevance-weighted members use one relevance scale from all 8 tasks (RMS of per-task ridge coefficients)"
    encoding = "onehot"
    uses_shared = True

    @classmethod
    def _fit_shared(cls, X: np.ndarray, Y: np.ndarray) -> SharedRelevance:
        return shared_relevance_scale(X, Y)

    def _member_models(self) -> list:
        shared: SharedRelevance = self.shared_
        if not isinstance(shared, SharedRelevance):
            raise TypeError(f"{self.name} needs a SharedRelevance from fit_shared, got {shared!r}")
        return [
            KernelRidgeModel(),
            KernelRidgeModel(INTERACTION_KERNELS),
            RelevanceKernelRidgeModel(scale=shared.scale),
            RelevanceKernelRidgeModel(INTERACTION_KERNELS, scale=shared.scale),
        ]
