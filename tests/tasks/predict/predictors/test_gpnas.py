import json

import numpy as np

from schemas.encodings import encode_notebook
from schemas.search_space import RANK_FIELDS
from tasks.predict.evaluate import evaluate_predictor, parse_holdout
from tasks.predict.predictors import make_predictor
from tests.factories import some_archs

# The seed notebook's printed table (train arch1-400, test arch401-500, fast mode).
SEED_TABLE = [0.2513, 0.8327, 0.9006, 0.9321, 0.8893, 0.6921, 0.9216, 0.7899]


def test_gpnas_reproduces_the_seed_table_on_the_real_file(shared_train):
    data = json.loads(shared_train.read_text())
    X = encode_notebook([entry["arch"] for entry in data.values()])
    ranks = np.array([[entry[f] for f in RANK_FIELDS] for entry in data.values()], dtype=float)
    table = evaluate_predictor("gpnas", X, ranks, parse_holdout("last:100"))
    taus = table.iloc[0][1:9].astype(float).round(4).tolist()
    assert taus == SEED_TABLE
    assert round(float(table["average"].iloc[0]), 4) == 0.7762


def test_fast_predict_equals_paddleslim_get_predict():
    archs = some_archs(90, seed=6)
    X, y = encode_notebook(archs), np.random.default_rng(0).permutation(90).astype(float)
    model = make_predictor("gpnas").fit(X, y)
    np.testing.assert_allclose(model.predict(X), model.paddleslim_predict(X), rtol=1e-10, atol=1e-8)


def test_numpy_is_not_patched_globally():
    from tasks.predict.predictors.gpnas import load_gpnas_module

    module = load_gpnas_module()
    assert module.np.mat is np.asmatrix
    assert not hasattr(np, "mat")


def test_gpnas_loo_residuals_match_refits_of_each_stage():
    """The sd's scale comes from closed-form LOO over both GP-NAS stages; each must equal
    paddleslim refitted with that one row left out of its own stage (even rows: the
    initial mean; odd rows: the posterior step). Odd rows agree to rounding. Even rows
    to 1e-3 on residuals of about 100: paddleslim's stage 1 inverts X'X + 1e-7 I, rank
    51 of 101 for the seed encoding, in the primal, and that alone moves its own fitted
    values by about 2e-4 from the exact (dual) solution."""
    import warnings

    from tasks.predict.predictors.gpnas import GpnasStages, new_gpnas

    # 60 even rows: more than the seed encoding's rank (51), as in real fits
    X = encode_notebook(some_archs(120, seed=2))
    y = np.random.default_rng(3).permutation(120).astype(float)
    Xe, ye, Xo, yo = X[0::2], y[0::2], X[1::2], y[1::2]

    def fit(Xe, ye, Xo, yo):
        gp = new_gpnas(2, 2)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", PendingDeprecationWarning)
            gp.get_initial_mean(Xe, ye)
            gp.get_initial_cov(X)
            gp.get_posterior_mean(Xo, yo)
        return np.asarray(gp.w).ravel(), gp

    w, gp = fit(Xe, ye, Xo, yo)
    stages = GpnasStages.of(gp, X)
    odd, _ = stages.loo_odd(yo, w)
    even, _ = stages.loo_even(ye, w)
    for i in range(0, len(Xo), 12):  # each refit runs paddleslim's Python loops
        keep = np.arange(len(Xo)) != i
        w_i, _ = fit(Xe, ye, Xo[keep], yo[keep])
        assert np.isclose(odd[i], yo[i] - (Xo[i] @ w_i[:-1] + w_i[-1]), rtol=1e-9, atol=1e-8)
    for j in range(0, len(Xe), 12):
        keep = np.arange(len(Xe)) != j
        w_j, _ = fit(Xe[keep], ye[keep], Xo, yo)
        assert np.isclose(even[j], ye[j] - (Xe[j] @ w_j[:-1] + w_j[-1]), rtol=0, atol=1e-3)
