"""The official baseline: paddleslim's GPNAS(2, 2) in the seed notebook's fast mode."""

from __future__ import annotations

import importlib.util
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from types import ModuleType

import numpy as np
from scipy.spatial.distance import cdist

from tasks.predict.predictors.base import Predictor, calibration_scale


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


def _augmented(X: np.ndarray) -> np.ndarray:
    """Rows with the trailing 1 paddleslim appends (its _preprocess_X)."""
    return np.column_stack([X, np.ones(len(X))])


def raw_variance(rows: np.ndarray, posterior_cov: np.ndarray) -> np.ndarray:
    """1 + z' G^-1 z for augmented rows z: the kernel's own variance at z (k(z, z) = 1)
    plus the posterior variance of the linear mean that fast mode predicts with."""
    return 1.0 + np.einsum("ij,jk,ik->i", rows, posterior_cov, rows)


@dataclass(frozen=True)
class GpnasStages:
    """GPNAS fast mode as plain arrays: stage 1 fits w0 by (almost) ordinary least squares
    on the even rows; stage 2 is Bayesian linear regression on the odd rows with prior
    N(w0, cov_w) and correlated noise Sigma = k(x_i, x_j) + hp I (the c_flag=2 kernel).
    G is the posterior precision of w; w = G^-1 b."""

    even: np.ndarray  # augmented even rows
    odd: np.ndarray  # augmented odd rows
    noise_precision: np.ndarray  # S = Sigma^-1 over the odd rows
    prior_precision: np.ndarray  # (cov_w + hp I)^-1, the weight of w0 in b
    posterior_cov: np.ndarray  # G^-1
    hp: float

    @classmethod
    def of(cls, gp, X: np.ndarray) -> GpnasStages:
        even, odd = _augmented(X[0::2]), _augmented(X[1::2])
        hp, p = float(gp.hp_mat), even.shape[1]
        # paddleslim's _get_corelation for c_flag=2: exp(-|a - b| / 12), vectorised
        sigma = np.exp(-cdist(odd, odd) / 12.0) + hp * np.eye(len(odd))
        noise_precision = np.linalg.inv(sigma)
        prior_precision = np.linalg.inv(np.asarray(gp.cov_w) + hp * np.eye(p))
        precision = odd.T @ noise_precision @ odd + prior_precision + hp * np.eye(p)
        return cls(even, odd, noise_precision, prior_precision, np.linalg.inv(precision), hp)

    def loo_odd(self, y_odd: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(LOO residuals, raw LOO variances) of the odd rows. Leaving odd row i out
        downdates S to S - s_i s_i' / S_ii (the inverse of Sigma without row i, padded with
        zeros), a rank-one change of G and b: Sherman-Morrison, all rows at once."""
        S, X = self.noise_precision, self.odd
        U = X.T @ S  # column i: u_i = X' s_i
        V = self.posterior_cov @ U
        s_ii, q = np.diag(S), np.einsum("pi,pi->i", U, V)
        xv, t = np.einsum("ip,pi->i", X, V), S @ y_odd
        shift = xv * (U.T @ w - q * t / s_ii) / (s_ii - q) - xv * t / s_ii
        variance = raw_variance(X, self.posterior_cov) + xv**2 / (s_ii - q)
        return y_odd - (X @ w + shift), variance

    def loo_even(self, y_even: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(LOO residuals, raw LOO variances) of the even rows. Leaving even row j out
        moves w0 by -Q x_j e_j (e_j its stage-1 LOO residual, Q x_j = X_e' K^-1[:, j] with
        K = X_e X_e' + hp I, the dual form: stable when the even rows are fewer than the
        features), and w by G^-1 (cov_w + hp I)^-1 times that; G itself does not change."""
        X = self.even
        K_inv = np.linalg.inv(X @ X.T + self.hp * np.eye(len(X)))
        stage1_loo = (K_inv @ y_even) / np.diag(K_inv)
        reach = X @ self.posterior_cov @ self.prior_precision @ X.T
        shift = -np.einsum("ij,ji->i", reach, K_inv) * stage1_loo
        return y_even - (X @ w + shift), raw_variance(X, self.posterior_cov)


def new_gpnas(c_flag: int = 2, m_flag: int = 2):
    with _LOAD_LOCK:  # eight fit threads may arrive at once
        module = load_gpnas_module()
    return module.GPNAS(c_flag, m_flag)


class GPNASPredictor(Predictor):
    name = "gpnas"
    description = "official baseline: paddleslim GPNAS(2,2), fast mode, the seed notebook's encoding, raw rank targets"
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
        self._calibrate_sd(X, y)

    def _calibrate_sd(self, X: np.ndarray, y: np.ndarray) -> None:
        """sd from GP-NAS's own posterior: fast mode predicts with the posterior mean of
        w, whose covariance G^-1 paddleslim never forms (its get_posterior_cov computes
        another formula), so it is formed here from the fitted model's own matrices. The
        scale factor comes from exact LOO over both stages (no refit): an even row left
        out changes w0, an odd row the posterior step."""
        stages = GpnasStages.of(self._gp, X)
        w = np.asarray(self._gp.w, dtype=np.float64).ravel()
        odd_residuals, odd_variance = stages.loo_odd(y[1::2], w)
        even_residuals, even_variance = stages.loo_even(y[0::2], w)
        residuals = np.concatenate([even_residuals, odd_residuals])
        raw_sd = np.sqrt(np.concatenate([even_variance, odd_variance]))
        self.sd_scale_ = calibration_scale(residuals, raw_sd)
        self.posterior_cov_ = stages.posterior_cov

    def _predict_sd(self, X: np.ndarray) -> np.ndarray:
        return self.sd_scale_ * np.sqrt(raw_variance(_augmented(X), self.posterior_cov_))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        # GPNAS.get_predict(X) is [X, 1] * w. It builds that augmented matrix through
        # Python lists (tolist + deepcopy: about 4 s per task for 99,500 archs); the same
        # product computed in numpy gives the same values to rounding
        # (tests/tasks/predict/predictors/test_gpnas.py checks against get_predict). The base
        # class feeds at most PREDICT_ROWS rows at a time, which bounds the memory.
        weights = np.asarray(self._gp.w, dtype=np.float64).ravel()
        return X @ weights[:-1] + weights[-1]

    def paddleslim_predict(self, X: np.ndarray) -> np.ndarray:
        """paddleslim's own GPNAS.get_predict, for checking the fast path."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            return np.asarray(
                self._gp.get_predict(np.asarray(X, dtype=np.float64)), dtype=np.float64
            ).ravel()
