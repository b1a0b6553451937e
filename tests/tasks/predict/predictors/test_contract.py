"""The one predictor contract, for every registered predictor: fit(X, y) then
predict(X) gives one finite score per arch, bit for bit the same for the same seed, leaves
its inputs untouched, refuses to predict before fit, and learns a planted signal; and
predict_with_sd(X) gives those same scores with a predictive sd that is positive, stable
in blocks and through the stored state, larger far from the training archs, and
calibrated on held-out archs."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.encodings import get_encoding
from schemas.search_space import sample_archs
from tasks.predict.predictors import PREDICTORS, make_predictor

N_TRAIN, N_TEST = 90, 40


def _labelled(encoding: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Archs in the predictor's own encoding; ranks driven by the 'code 3' choices (read
    from the one-hot encoding) plus a little noise."""
    rng = np.random.default_rng(seed)
    archs = list(dict.fromkeys(sample_archs(3 * (N_TRAIN + N_TEST), rng)))[: N_TRAIN + N_TEST]
    onehot = get_encoding("onehot").build(archs)
    signal = onehot[:, 5::3] @ rng.normal(size=onehot[:, 5::3].shape[1])
    signal += 0.3 * rng.normal(size=len(archs))
    ranks = np.argsort(np.argsort(signal)).astype(float)
    return get_encoding(encoding).build(archs), ranks


def _fit(name: str, X: np.ndarray, y: np.ndarray, seed: int = 0):
    """fit(X, y), plus the shared statistics of a predictor that learns across tasks
    (fit_shared, here from this one task; None for the others)."""
    shared = PREDICTORS[name].fit_shared(X, y[:, None])
    return make_predictor(name, seed=seed).fit(X, y, shared=shared)


@pytest.fixture(params=sorted(PREDICTORS), scope="module")
def name(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def data(name):
    return _labelled(PREDICTORS[name].encoding)


def test_fit_predict_shapes_finite_and_deterministic(name, data):
    X, y = data
    a = _fit(name, X[:N_TRAIN], y[:N_TRAIN], seed=3).predict(X[N_TRAIN:])
    b = _fit(name, X[:N_TRAIN], y[:N_TRAIN], seed=3).predict(X[N_TRAIN:])
    assert a.shape == (N_TEST,) and a.dtype == np.float64
    assert np.all(np.isfinite(a))
    assert a.tobytes() == b.tobytes()


def test_learns_the_planted_signal(name, data):
    X, y = data
    scores = _fit(name, X[:N_TRAIN], y[:N_TRAIN]).predict(X[N_TRAIN:])
    assert np.corrcoef(scores, y[N_TRAIN:])[0, 1] > 0.5


def test_inputs_are_not_mutated(name, data):
    X, y = data
    X_fit, y_fit, X_test = X[:N_TRAIN].copy(), y[:N_TRAIN].copy(), X[N_TRAIN:].copy()
    _fit(name, X_fit, y_fit).predict(X_test)
    assert X_fit.tobytes() == X[:N_TRAIN].tobytes() and y_fit.tobytes() == y[:N_TRAIN].tobytes()
    assert X_test.tobytes() == X[N_TRAIN:].tobytes()


def test_one_row_at_a_time_equals_the_batch(name, data):
    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    batch = model.predict(X[N_TRAIN:])
    rows = [model.predict(X[i : i + 1])[0] for i in range(N_TRAIN, N_TRAIN + 5)]
    np.testing.assert_allclose(rows, batch[:5], rtol=1e-9, atol=1e-9)


def test_predict_before_fit_is_an_error(name, data):
    X, _ = data
    with pytest.raises(RuntimeError, match="must be fitted before predict"):
        make_predictor(name).predict(X[:2])


def test_registered_with_a_one_line_description(name):
    cls = PREDICTORS[name]
    assert cls.name == name and cls.description and "\n" not in cls.description


def test_blocks_and_compact_input_give_the_same_scores(name, data, monkeypatch):
    """predict scores PREDICT_ROWS rows at a time and takes compact uint8 features (as the
    pipeline passes them). Compact input changes no bit; another block size may change the
    last bits only (BLAS picks its kernels by matrix size), never an arch's score."""
    from tasks.predict.predictors import base

    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    whole = model.predict(X[N_TRAIN:])
    assert model.predict(X[N_TRAIN:].astype(np.uint8)).tobytes() == whole.tobytes()
    monkeypatch.setattr(base, "PREDICT_ROWS", 7)
    np.testing.assert_allclose(model.predict(X[N_TRAIN:]), whole, rtol=1e-12, atol=1e-12)


def test_a_fitted_predictor_survives_its_plain_data_state(name, data):
    """`ufo search` stores its fitted predictors as plain data (tasks/predict/predictors/state.py),
    never pickle: the state rebuilds a predictor that scores bit for bit the same, and
    stores the state again unchanged."""
    from tasks.predict.predictors.state import dump_state, load_state

    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    state = dump_state(model)
    rebuilt = load_state(state)
    assert type(rebuilt) is type(model)
    assert rebuilt.predict(X[N_TRAIN:]).tobytes() == model.predict(X[N_TRAIN:]).tobytes()
    assert dump_state(rebuilt) == state


# ---------------------------------------------------------------- the predictive sd


def test_predict_with_sd_gives_predicts_scores_and_a_positive_sd(name, data):
    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    scores, sd = model.predict_with_sd(X[N_TRAIN:])
    assert scores.tobytes() == model.predict(X[N_TRAIN:]).tobytes()
    assert sd.shape == scores.shape and sd.dtype == np.float64
    assert np.all(np.isfinite(sd)) and np.all(sd > 0)


def test_predict_with_sd_before_fit_is_an_error(name, data):
    X, _ = data
    with pytest.raises(RuntimeError, match="must be fitted before predict"):
        make_predictor(name).predict_with_sd(X[:2])


def test_sd_blocks_and_compact_input_give_the_same_sd(name, data, monkeypatch):
    from tasks.predict.predictors import base

    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    _, whole = model.predict_with_sd(X[N_TRAIN:])
    assert model.predict_with_sd(X[N_TRAIN:].astype(np.uint8))[1].tobytes() == whole.tobytes()
    monkeypatch.setattr(base, "PREDICT_ROWS", 7)
    np.testing.assert_allclose(model.predict_with_sd(X[N_TRAIN:])[1], whole, rtol=1e-9)


def test_the_sd_survives_the_plain_data_state(name, data):
    from tasks.predict.predictors.state import dump_state, load_state

    X, y = data
    model = _fit(name, X[:N_TRAIN], y[:N_TRAIN])
    rebuilt = load_state(dump_state(model))
    assert rebuilt.predict_with_sd(X[N_TRAIN:])[1].tobytes() == (
        model.predict_with_sd(X[N_TRAIN:])[1].tobytes()
    )


def _archs(n: int, p_code_3: float, rng: np.random.Generator) -> list[str]:
    """Random archs whose heads and mlp codes are '3' with probability p_code_3 and '1'
    or '2' otherwise."""
    from schemas.search_space import HEADS_BY_CODE, MLP_RATIO_BY_CODE, encode_arch

    def pick(table: dict, size: int) -> list:
        codes = np.where(rng.random(size) < p_code_3, "3", rng.choice(["1", "2"], size))
        return [table[c] for c in codes]

    depths = rng.choice([10, 11, 12], n)
    return [encode_arch(d, pick(HEADS_BY_CODE, d), pick(MLP_RATIO_BY_CODE, d)) for d in depths]


def test_the_sd_is_larger_far_from_the_training_archs(name):
    """Trained on archs that never use code '3', a family is less sure about every arch
    made mostly of '3's (choices it has never seen) than about any of its own training
    archs. (By 7-10x for the ridge and kernel families; by 2-3 % for gpnas, whose own
    posterior, with prior cov_w = 0.01 I against unit noise, is almost flat.)"""
    rng = np.random.default_rng(0)
    train, far = _archs(N_TRAIN, 0.0, rng), _archs(N_TEST, 0.9, rng)
    encoding = get_encoding(PREDICTORS[name].encoding)
    X_train, X_far = encoding.build(train), encoding.build(far)
    onehot = get_encoding("onehot").build(train)
    y = onehot @ rng.normal(size=onehot.shape[1]) + 0.3 * rng.normal(size=N_TRAIN)
    model = _fit(name, X_train, y)
    _, sd_train = model.predict_with_sd(X_train)
    _, sd_far = model.predict_with_sd(X_far)
    assert np.min(sd_far) > np.max(sd_train)


def test_the_sd_is_calibrated_on_held_out_archs(name):
    """On data with Gaussian noise of a known size, about 68 % of held-out archs fall
    within one predicted sd of their true target (band 0.5-0.85: a few hundred archs)."""
    rng = np.random.default_rng(1)
    n_train, n_held_out = 150, 400
    archs = list(dict.fromkeys(sample_archs(2 * (n_train + n_held_out), rng)))
    archs = archs[: n_train + n_held_out]
    onehot = get_encoding("onehot").build(archs)
    labels = onehot @ rng.normal(size=onehot.shape[1]) + 0.8 * rng.normal(size=len(archs))
    X = get_encoding(PREDICTORS[name].encoding).build(archs)
    model = _fit(name, X[:n_train], labels[:n_train])
    scores, sd = model.predict_with_sd(X[n_train:])
    target = PREDICTORS[name].held_out_target(labels[:n_train], labels[n_train:])
    error = scores - model.target_in_score_units(target)
    assert 0.5 <= np.mean(np.abs(error) <= sd) <= 0.85
