"""The official baseline: paddleslim's GPNAS(2, 2) in the seed notebook's fast mode."""

from __future__ import annotations

import importlib.util
import threading
import warnings
from functools import cache
from types import ModuleType

import numpy as np

from tasks.predictors.base import Predictor

# Predicting in chunks keeps GPNAS's list-of-lists preprocessing (it deep-copies X as
# Python lists) to a bounded size; the result is the same rows in the same order.
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
    encoding = "seed"
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
        parts = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            for start in range(0, len(X), PREDICT_CHUNK_ROWS):
                chunk = self._gp.get_predict(X[start : start + PREDICT_CHUNK_ROWS])
                parts.append(np.asarray(chunk, dtype=np.float64).ravel())
        return np.concatenate(parts) if parts else np.zeros(0)
