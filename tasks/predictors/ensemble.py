"""Equal-weight ensemble of kernel ridge, interaction ridge and a relevance-weighted
kernel ridge, each fitted (with its own LOO choices) on the training rows only.

Members' scores are z-scored with the mean and std of their own training-row
predictions, then averaged. Equal weights: weights fitted by CV did slightly worse."""

from __future__ import annotations

import logging

import numpy as np

from tasks.predictors.base import Predictor
from tasks.predictors.interactions import INTERACTION_KERNELS
from tasks.predictors.kernel_ridge import KernelRidgeModel
from tasks.predictors.ridge import fit_ridge

log = logging.getLogger(__name__)


class RelevanceKernelRidgeModel:
    """Kernel ridge on features rescaled by |ridge coefficient| (normalised to mean 1):
    choices that matter (mostly code '3' in layers 1-8) dominate the RBF distance."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> RelevanceKernelRidgeModel:
        weights, _, _ = fit_ridge(X, y)
        relevance = np.abs(weights)
        self.scale_ = relevance / max(float(relevance.mean()), 1e-12)
        self.model_ = KernelRidgeModel().fit(X * self.scale_, y)
        return self

    def describe(self) -> str:
        return f"relevance-weighted {self.model_.describe()}"

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X * self.scale_)


def member_models() -> list:
    return [KernelRidgeModel(), KernelRidgeModel(INTERACTION_KERNELS), RelevanceKernelRidgeModel()]


class EnsemblePredictor(Predictor):
    name = "ensemble"
    description = "equal-weight mean of z-scored kernel ridge, interaction ridge and relevance-weighted kernel ridge"
    encoding = "onehot"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.members_, self.stats_ = [], []
        for model in member_models():
            model.fit(X, y)
            train_scores = model.predict(X)
            self.members_.append(model)
            self.stats_.append((float(train_scores.mean()), max(float(train_scores.std()), 1e-12)))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        total = np.zeros(len(X))
        for model, (mean, std) in zip(self.members_, self.stats_, strict=True):
            total += (model.predict(X) - mean) / std
        return total / len(self.members_)
