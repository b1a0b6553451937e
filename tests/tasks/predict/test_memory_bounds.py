"""Memory follows the columns, not the number of Python objects (issue 10, item 6).

Each step that touches every test arch (reading, encoding, scoring, writing) is run on a
few hundred thousand archs under tracemalloc, and its peak traced allocation must stay
within a bound set by the compact columns plus one block: loose (about twice what the
streamed code needs here) yet well below what the code before streaming took (figures
in each test, measured with the same steps on commit eb9a68d). Arrow's own buffers are not
traced, so the reader's bound covers the Python side only; bench/README.md has the
whole-process figures."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from schemas.search_space import TASKS
from tasks.files import reading, writing
from tasks.predict import encode, submission
from tasks.predict.predictors import make_predictor
from tasks.predict.synthetic import make_test_standin

N = 300_000
MB = 2**20


def _peak_mb(step) -> tuple[object, float]:
    tracemalloc.start()
    try:
        result = step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak / MB


@pytest.fixture(scope="module")
def big_test_file(tmp_path_factory):
    frame = make_test_standin([], N, seed=3)
    path = tmp_path_factory.mktemp("big") / "test.json"
    writing.write_competition_frame(path, frame)
    return path, frame


def test_reading_a_big_file_holds_columns_not_objects(big_test_file):
    path, _ = big_test_file
    (frame, _), peak = _peak_mb(lambda: reading.read_competition_file(path))
    assert len(frame) == N
    # Streamed: 37 MB here. The whole-file json.loads before streaming: 295 MB.
    assert peak < 100, f"reading {N:,} archs peaked at {peak:.0f} MB of Python allocations"


def test_encoding_a_big_file_holds_compact_features(big_test_file, tmp_path):
    _, frame = big_test_file
    encoded, peak = _peak_mb(lambda: encode.encode_archs_cached(frame["arch"], "onehot", tmp_path))
    assert encoded.features.dtype == np.uint8
    # uint8 features (21 MB) plus one float64 block: 81 MB here. Everything in float64,
    # before streaming: 226 MB.
    assert peak < 150, f"encoding {N:,} archs peaked at {peak:.0f} MB"


def test_scoring_a_big_file_works_block_by_block(big_test_file):
    _, frame = big_test_file
    features = encode.encode_archs(frame["arch"], "onehot")
    rng = np.random.default_rng(0)
    train = features[rng.choice(N, 400, replace=False)]
    model = make_predictor("kernel_ridge").fit(train, rng.permutation(400).astype(float))
    scores, peak = _peak_mb(lambda: model.predict(features))
    assert scores.shape == (N,)
    # Scores plus one block's float64 rows and kernel: 12 MB here. The whole test set at
    # once, before blocks: 176 MB.
    assert peak < 60, f"scoring {N:,} archs peaked at {peak:.0f} MB"


def test_writing_a_big_submission_streams(big_test_file, tmp_path):
    _, frame = big_test_file
    scores = {task: np.arange(N, dtype=np.float64)[::-1] for task in TASKS}
    ranked = submission.assemble_submission(frame, scores)

    def write():
        return submission.write_staged_submission(tmp_path / "sub.json", ranked, lambda _: None)

    staged, peak = _peak_mb(write)
    assert staged["bytes"] > 50 * MB
    # One block of entries at a time: 44 MB here. Every entry as a dict and the whole text
    # in memory, parsed back for the check (before streaming): 364 MB.
    assert peak < 120, f"writing {N:,} archs peaked at {peak:.0f} MB"
