"""Ridge on the per-layer one-hot indicators plus all their pairwise products
(e.g. "layer 3 heads is code 3 AND layer 5 mlp is code 3"), with the weight of the
interaction block and alpha chosen per task by exact LOO on the training rows.

Computed as kernel ridge with the 'interact' kernel: the same model as explicit
product columns, at the cost of a (rows x n_train) block instead of ~2,800 columns."""

from __future__ import annotations

import logging

from tasks.predict.predictors.base import Predictor
from tasks.predict.predictors.kernel_ridge import KernelRidgeModel, KernelSpec

log = logging.getLogger(__name__)

# Relative weight of a product column to a main-effect column. About 300 products are
# active per arch against ~25 indicators, so useful weights are well below 1.
INTERACTION_WEIGHTS: tuple[float, ...] = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
INTERACTION_KERNELS = tuple(KernelSpec("interact", w) for w in INTERACTION_WEIGHTS)


class InteractionRidgePredictor(Predictor):
    name = "interactions"
    description = (
        "ridge on per-layer one-hot plus pairwise products, block weight and alpha per task by LOO"
    )
    encoding = "onehot"

    def _fit(self, X, y) -> None:
        self.model_ = KernelRidgeModel(INTERACTION_KERNELS).fit(X, y)
        log.debug("interactions: %s alpha %.3g", self.model_.kernel_, self.model_.alpha_)

    def _predict(self, X):
        return self.model_.predict(X)

    def _predict_sd(self, X):
        return self.model_.predict_sd(X)
