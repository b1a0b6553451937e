"""The official baseline: paddleslim's GPNAS(2, 2) in the seed notebook's fast mode."""

from __future__ import annotations

import importlib.util
import threading
import warnings
from functools import cache
from types import ModuleType

import numpy as np

from tasks.predict.predictors.base import Predictor

# Rows per prediction chunk: bounds the temporary memory of a 99,500-arch prediction.
PREDICT_CHUNK_ROWS = 20_000


class _NumpyWithMat:
    """NumPy 2 removed `np.mat`, which paddleslim 2.6's gp_nas calls. This proxy gives
    that one module `mat` (as np.asmatrix, its documented replacement) and forwards
    everything else to numpy; the global numpy module is left untouched."""

    mat = staticmethod(np.asmatrix)

    def __getattr__(self, name: str):
        return getattr(np, name)


@cache
def load_gpnas_module() -> ModuleType:
    """Load paddleslim's gp_nas.py as its own module.

    `import paddleslim.nas` would import paddlepaddle (seconds, and an opencv built for
    NumPy 1); gp_nas.py itself depends on numpy and copy only, so we load that file from
    the installed paddleslim package and give it the np.mat adapter above."""
    spec = importlib.util.find_spec("paddleslim")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("paddleslim is not installed; `pip install paddleslim==2.6.0`")
    location = f"{list(spec.submodule_search_locations)[0]}/nas/gp_nas.py"
    module_spec = importlib.util.spec_from_file_location("ufo_paddleslim_gp_nas", location)
    if module_spec is None or module_spec.loader is None:
        raise ImportError(f"cannot load paddleslim's GP-NAS from {location}")
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    module.np = _NumpyWithMat()
    return module


_LOAD_LOCK = threading.Lock()


def new_gpnas(c_flag: int = 2, m_flag: int = 2):
    with _LOAD_LOCK:  # eight fit threads may arrive at once
        module = load_gpnas_module()
    return module.GPNAS(c_flag, m_flag)


class GPNASPredictor(Predictor):
    name = "gpnas"
    description = (
        "official baseline: paddleslim GPNAS(2,2), fast mode, seed encoding, raw rank targets"
    )
    encoding = "notebook"
    # GP-NAS regresses on the rank values themselves, as in the seed notebook.
    target = "raw"

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self._gp = new_gpnas(2, 2)
        with warnings.catch_warnings():
            warnings.simplefilter(
                "ignore", PendingDeprecationWarning
            )  # np.matrix use inside gp_nas
            # The seed's fast mode: initial mean from the even rows, prior covariance,
            # posterior mean from the odd rows.
            self._gp.get_initial_mean(X[0::2], y[0::2])
            self._gp.get_initial_cov(X)
            self._gp.get_posterior_mean(X[1::2], y[1::2])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        # GPNAS.get_predict(X) is [X, 1] * w. It builds that augmented matrix through
        # Python lists (tolist + deepcopy: about 4 s per task for 99,500 archs); the same
        # product computed in numpy chunks gives the same values to rounding
        # (tests/tasks/predict/predictors/test_gpnas.py checks against get_predict).
        weights = np.asarray(self._gp.w, dtype=np.float64).ravel()
        parts = []
        for start in range(0, len(X), PREDICT_CHUNK_ROWS):
            chunk = X[start : start + PREDICT_CHUNK_ROWS]
            parts.append(chunk @ weights[:-1] + weights[-1])
        return np.concatenate(parts) if parts else np.zeros(0)

    def paddleslim_predict(self, X: np.ndarray) -> np.ndarray:
        """paddleslim's own GPNAS.get_predict, for checking the fast path."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.asarray(
                self._gp.get_predict(np.asarray(X, dtype=np.float64)), dtype=np.float64
            ).ravel()
