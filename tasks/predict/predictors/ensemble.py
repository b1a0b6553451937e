"""Equal-weight ensemble of four kernel ridge members, a 2 x 2 design: {RBF-or-linear
kernel, interaction kernel} x {plain one-hot, one-hot rescaled by ridge relevance}.
Each member makes its own LOO choices on the training rows only.

Members' scores are z-scored with the mean and std of their own training-row
predictions, then averaged. Equal weights: weights fitted by CV did slightly worse."""

from __future__ import annotations

import logging

import numpy as np

from tasks.predict.predictors.base import Predictor, calibration_scale
from tasks.predict.predictors.interactions import INTERACTION_KERNELS
from tasks.predict.predictors.kernel_ridge import DEFAULT_KERNELS, KernelRidgeModel, KernelSpec
from tasks.predict.predictors.ridge import fit_ridge

log = logging.getLogger(__name__)


class RelevanceKernelRidgeModel:
    """Kernel ridge on features rescaled by |ridge coefficient| (normalised to mean 1):
    choices that matter (mostly code '3' in layers 1-8) dominate the kernel. The scale is
    this task's own unless a `scale` is given (shared_relevance: one for all tasks)."""

    def __init__(
        self, kernels: tuple[KernelSpec, ...] = DEFAULT_KERNELS, scale: np.ndarray | None = None
    ):
        self.kernels, self.fixed_scale = kernels, scale

    def fit(self, X: np.ndarray, y: np.ndarray) -> RelevanceKernelRidgeModel:
        if self.fixed_scale is not None:
            self.scale_ = self.fixed_scale
        else:
            weights, _, _ = fit_ridge(X, y)
            relevance = np.abs(weights)
            self.scale_ = relevance / max(float(relevance.mean()), 1e-12)
        self.model_ = KernelRidgeModel(self.kernels).fit(X * self.scale_, y)
        return self

    def describe(self) -> str:
        kind = "relevance-weighted" if self.fixed_scale is None else "shared-relevance"
        return f"{kind} {self.model_.describe()}"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X * self.scale_)

    def predict_sd(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict_sd(X * self.scale_)

    def loo_errors(self) -> tuple[np.ndarray, np.ndarray]:
        return self.model_.loo_errors()


def member_models() -> list:
    return [
        KernelRidgeModel(),
        KernelRidgeModel(INTERACTION_KERNELS),
        RelevanceKernelRidgeModel(),
        RelevanceKernelRidgeModel(INTERACTION_KERNELS),
    ]


class EnsemblePredictor(Predictor):
    name = "ensemble"
    description = "equal-weight mean of 4 z-scored kernel ridges: RBF/linear and interaction kernels, plain and relevance-weighted"
    encoding = "onehot"

    def _member_models(self) -> list:
        return member_models()

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.members_, self.stats_ = [], []
        for model in self._member_models():
            model.fit(X, y)
            train_scores = model.predict(X)
            self.members_.append(model)
            self.stats_.append((float(train_scores.mean()), max(float(train_scores.std()), 1e-12)))
        self._calibrate_sd()

    def _predict(self, X: np.ndarray) -> np.ndarray:
        total = np.zeros(len(X))
        for model, (mean, std) in zip(self.members_, self.stats_, strict=True):
            total += (model.predict(X) - mean) / std
        return total / len(self.members_)

    def _calibrate_sd(self) -> None:
        """The raw sd is the mean of the members' calibrated sds, each on the ensemble's
        scale (divided by its z-scoring std and the member count): the members' errors
        are almost perfectly correlated, so their sds add rather than add in quadrature.
        Its LOO form, from each member's own LOO residuals and sds (the z-scoring
        statistics held fixed), gives the one scale factor on top."""
        residuals = np.zeros_like(self.members_[0].loo_errors()[0])
        raw_sd = np.zeros_like(residuals)
        for model, (_, std) in zip(self.members_, self.stats_, strict=True):
            member_residuals, member_sd = model.loo_errors()
            residuals += member_residuals / std
            raw_sd += member_sd / std
        count = len(self.members_)
        self.sd_scale_ = calibration_scale(residuals / count, raw_sd / count)

    def _predict_sd(self, X: np.ndarray) -> np.ndarray:
        raw_sd = np.zeros(len(X))
        for model, (_, std) in zip(self.members_, self.stats_, strict=True):
            raw_sd += model.predict_sd(X) / std
        return self.sd_scale_ * raw_sd / len(self.members_)

    def target_in_score_units(self, target: np.ndarray) -> np.ndarray:
        """Each member estimates the target t and is z-scored, so the ensemble's score
        estimates mean_m (t - mean_m) / std_m, an affine map of t."""
        target = np.asarray(target, dtype=np.float64)
        return sum((target - mean) / std for mean, std in self.stats_) / len(self.stats_)
