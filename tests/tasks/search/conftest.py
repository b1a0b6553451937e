"""Fitted predictors on a synthetic training file, shared by the search tests.

make_demo_train favours bigger archs, as the real training file does (parameter count and
rank have negative Kendall tau on all 8 tasks), so the search faces the real trade-off:
the cheapest arch is not the best (tests/tasks/test_synthetic.py checks the direction)."""

from __future__ import annotations

import numpy as np
import pytest

from schemas.encodings import get_encoding
from schemas.search_space import RANK_FIELDS, TASKS
from tasks.predict.fitting import one_blas_thread_per_fit
from tasks.predict.predictors import make_predictor
from tasks.predict.synthetic import make_demo_train


@pytest.fixture(scope="session")
def demo_train():
    return make_demo_train(240, seed=5)


def fit_all(frame, name: str, tasks=TASKS) -> dict:
    one_blas_thread_per_fit()  # BLAS threads on a busy 2-core machine made fits 10x slower
    X = get_encoding("onehot").build(frame["arch"].tolist())
    return {
        task: make_predictor(name).fit(X, frame[field].to_numpy(dtype=np.float64))
        for task, field in zip(TASKS, RANK_FIELDS, strict=True)
        if task in tasks
    }


@pytest.fixture(scope="session")
def ridge_predictors(demo_train):
    return fit_all(demo_train, "ridge")


@pytest.fixture(scope="session")
def ensemble_predictors(demo_train):
    return fit_all(demo_train, "ensemble", tasks=("market1501", "sop"))
