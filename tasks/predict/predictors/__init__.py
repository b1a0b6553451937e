"""Registry of predictor families: names to classes (not instances)."""

from __future__ import annotations

from tasks.predict.predictors.base import Predictor
from tasks.predict.predictors.ensemble import EnsemblePredictor
from tasks.predict.predictors.gpnas import GPNASPredictor
from tasks.predict.predictors.interactions import InteractionRidgePredictor
from tasks.predict.predictors.kernel_ridge import KernelRidgePredictor
from tasks.predict.predictors.ridge import RidgePredictor
from tasks.predict.predictors.shared_relevance import SharedRelevancePredictor

PREDICTORS: dict[str, type[Predictor]] = {
    cls.name: cls
    for cls in (
        GPNASPredictor,
        RidgePredictor,
        KernelRidgePredictor,
        InteractionRidgePredictor,
        EnsemblePredictor,
        SharedRelevancePredictor,
    )
}

# The predictor `ufo run` uses when none is named (chosen by bench/quality.py; issue 12's
# rule: shared_relevance beat ensemble on 13 of 15 reporting folds, +0.0031 mean tau).
DEFAULT_PREDICTOR = "shared_relevance"


class UnknownPredictorError(ValueError):
    """A predictor name that is not registered (a user's mistake, not a bug)."""


def get_predictor_class(name: str) -> type[Predictor]:
    try:
        return PREDICTORS[name]
    except KeyError:
        raise UnknownPredictorError(
            f"unknown predictor {name!r}; registered: {', '.join(sorted(PREDICTORS))}"
        ) from None


def make_predictor(name: str, seed: int = 0) -> Predictor:
    return get_predictor_class(name)(seed=seed)
