"""The seed notebook's baseline procedure with no orchestration, for timing comparisons.

Same JSON in and out, the same 100-feature encoding (the notebook's loop, written
again here), the same paddleslim GPNAS calls (fast mode: initial mean on the even rows of
arch1-400, covariance, posterior mean on the odd rows, then get_predict on the test
archs), and the notebook's output: the test JSON with int(prediction) as each rank.

usage: python bench/bare_baseline.py TRAIN.json TEST.json OUT.json
"""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np

from tasks.predict.predictors.gpnas import new_gpnas

TASK_FIELDS = ["cplfw_rank", "market1501_rank", "dukemtmc_rank", "msmt17_rank",
               "veri_rank", "vehicleid_rank", "veriwild_rank", "sop_rank"]  # fmt: skip
FRONT = {"1": [1, 1, 0, 0], "2": [0, 1, 1, 0], "3": [0, 0, 1, 1]}
TAIL = {"1": [1, 1, 0, 0, 0], "2": [0, 1, 1, 0, 0], "3": [0, 0, 1, 1, 0]}


def notebook_features(arch: str) -> list[int]:
    out: list[int] = []
    for i, ch in enumerate(arch):
        if i == 0 or i % 3 == 0:
            continue  # the depth character and the embed characters are skipped
        out += FRONT.get(ch, [0, 0, 0, 0]) if i <= 30 else TAIL.get(ch, [0, 0, 0, 0, 1])
    return out


def main(train_path: str, test_path: str, out_path: str) -> None:
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    with open(train_path) as f:
        train = json.load(f)
    with open(test_path) as f:
        test = json.load(f)
    X = np.array([notebook_features(v["arch"]) for v in train.values()])[:400]
    X_test = np.array([notebook_features(v["arch"]) for v in test.values()])
    predictions = []
    for field in TASK_FIELDS:
        y = np.array([v[field] for v in train.values()])[:400]
        gp = new_gpnas(2, 2)
        gp.get_initial_mean(X[0::2], y[0::2])
        gp.get_initial_cov(X)
        gp.get_posterior_mean(X[1::2], y[1::2])
        predictions.append(gp.get_predict(X_test))
    for idx, key in enumerate(test):
        for t, field in enumerate(TASK_FIELDS):
            test[key][field] = int(predictions[t][idx, 0])
    with open(out_path, "w") as f:
        json.dump(test, f)


if __name__ == "__main__":
    main(*sys.argv[1:4])
