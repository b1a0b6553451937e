"""Registry of predictor families: names to classes (not instances)."""

from __future__ import annotations

from tasks.predictors.base import Predictor
from tasks.predictors.ensemble import EnsemblePredictor
from tasks.predictors.gpnas import GPNASPredictor
from tasks.predictors.interactions import InteractionRidgePredictor
from tasks.predictors.kernel_ridge import KernelRidgePredictor
from tasks.predictors.ridge import RidgePredictor

PREDICTORS: dict[str, type[Predictor]] = {
    cls.name: cls
    for cls in (
        GPNASPredictor,
        RidgePredictor,
        KernelRidgePredictor,
        InteractionRidgePredictor,
        EnsemblePredictor,
    )
}

# The predictor `ufo run` uses when none is named (chosen by bench/quality.py).
DEFAULT_PREDICTOR = "ensemble"


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
