"""The pipeline's computation with no orchestration: the floor `ufo run` is compared to.

Read the training and test files, encode them, fit the predictor for the eight tasks
(shared statistics once, then the fits two at a time in threads with one BLAS thread
each, like the pipeline's two-thread runner), score the test archs, rank, and write the
submission. No Prefect, no Great Expectations (no validation), no Parquet cache, no
persisted results: the same plain functions `ufo run` calls, so for the same inputs it
writes the same submission bytes (bench/scale.py checks this at every size).

Everything this script uses from the project is inside `compute`, so it can follow the
project's APIs (e.g. a streaming submission writer) by changing that function alone.

usage: python bench/pure_compute.py TRAIN.json TEST.json OUT.json [--predictor P]
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tasks.files import reading, writing
from tasks.predict import encode, fitting, submission

FORBIDDEN = ("prefect", "great_expectations")


def compute(train: Path, test: Path, out: Path, predictor: str) -> str:
    """Read, encode, fit, score, rank, write; return the sha256 of the written file."""
    from schemas.search_space import ARCH_FIELD, TASKS
    from tasks.predict.predictors import get_predictor_class

    train_frame, _ = reading.read_competition_file(train)
    test_frame, _ = reading.read_competition_file(test)
    encoding = get_predictor_class(predictor).encoding
    training = encode.training_set(
        train_frame, encode.encode_archs(train_frame[ARCH_FIELD], encoding)
    )
    test_features = encode.encode_archs(test_frame[ARCH_FIELD], encoding)
    fitting.one_blas_thread_per_fit()
    shared = fitting.fit_shared_stats(predictor, training)
    with ThreadPoolExecutor(max_workers=2) as pool:
        scores = pool.map(
            lambda task: fitting.fit_and_predict_task(
                task, predictor, training, test_features, shared
            ),
            TASKS,
        )
        scores_by_task = dict(zip(TASKS, scores, strict=True))
    frame = submission.assemble_submission(test_frame, scores_by_task)
    return writing.write_competition_frame(out, frame)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", type=Path)
    parser.add_argument("test", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--predictor", help="default: tasks.predict.predictors.DEFAULT_PREDICTOR")
    args = parser.parse_args()
    if args.predictor is None:
        from tasks.predict.predictors import DEFAULT_PREDICTOR

        args.predictor = DEFAULT_PREDICTOR
    digest = compute(args.train, args.test, args.out, args.predictor)
    loaded = [name for name in FORBIDDEN if name in sys.modules]
    if loaded:  # the point of this script is a run without them
        sys.exit(f"pure_compute: imported {', '.join(loaded)}; it must not")
    sys.stdout.write(f"wrote {args.out} (sha256 {digest})\n")
    sys.stdout.flush()
    # The `ufo` command ends without the interpreter's teardown (flows.cli.entry_point);
    # so does this floor, or the comparison would charge that teardown to one side only.
    os._exit(0)


if __name__ == "__main__":
    main()
