"""Training on one's own measurements: scores give the predictions of the ranks they imply,
byte for byte; a task some entries lack is fitted and evaluated on its own rows; the
competition's files give exactly what they gave before."""

import logging

import numpy as np
import pytest

from schemas.search_space import ARCH_FIELD, TASKS
from tasks.checks.validation import require_valid, validate_frame
from tasks.errors import HoldoutError, ParameterError
from tasks.events import EVENT_ATTR
from tasks.files import reading, writing
from tasks.predict import encode, fitting, submission
from tasks.predict.evaluate import Holdout, evaluate_predictor, fold_taus, parse_holdout
from tasks.predict.predictors import get_predictor_class, make_predictor
from tests.factories import (
    as_scores,
    some_archs,
    train_records,
    unlabelled_records,
    without_task,
    write_csv,
    write_json,
)

ARCHS = some_archs(78, seed=21)
TRAIN_ARCHS, TEST_ARCHS = ARCHS[:48], ARCHS[48:]
# Entries not measured on a task, by position in the file.
LACKING = {"cplfw": [1, 5, 9, 30, 47], "sop": [2, 5, 40]}


def _ranks() -> dict[str, dict]:
    return train_records(TRAIN_ARCHS, seed=8)


def _partial(records: dict[str, dict]) -> dict[str, dict]:
    keys = list(records)
    for task, positions in LACKING.items():
        records = without_task(records, task, [keys[p] for p in positions])
    return records


@pytest.fixture(scope="module")
def test_file(tmp_path_factory):
    return write_json(tmp_path_factory.mktemp("test") / "test.json", unlabelled_records(TEST_ARCHS))


def _training(path):
    frame, _ = reading.read_competition_file(path)
    require_valid(validate_frame(frame, "train", source=str(path)))
    return encode.training_set(frame, encode.encode_archs(frame[ARCH_FIELD], "onehot"))


def _submission_bytes(train_path, test_path, out, predictor: str) -> bytes:
    """The pipeline's steps as plain functions: read, validate, encode, fit, predict,
    assemble, write."""
    test_frame, _ = reading.read_competition_file(test_path)
    encoding = get_predictor_class(predictor).encoding
    frame, _ = reading.read_competition_file(train_path)
    require_valid(validate_frame(frame, "train", source=str(train_path)))
    training = encode.training_set(frame, encode.encode_archs(frame[ARCH_FIELD], encoding))
    test_features = encode.encode_archs(test_frame[ARCH_FIELD], encoding)
    fitting.require_fittable(predictor, training)
    shared = fitting.fit_shared_stats(predictor, training)
    scores = {
        task: fitting.fit_and_predict_task(task, predictor, training, test_features, shared)
        for task in TASKS
    }
    writing.write_competition_frame(out, submission.assemble_submission(test_frame, scores))
    return out.read_bytes()


@pytest.mark.parametrize("predictor", ["shared_relevance", "gpnas"])
@pytest.mark.parametrize("partial", [False, True], ids=["every task", "tasks missing"])
def test_a_scores_file_gives_the_submission_bytes_of_its_ranks_file(
    tmp_path, test_file, predictor, partial
):
    ranks = _partial(_ranks()) if partial else _ranks()
    scores = as_scores(ranks, TASKS[::2])  # half the tasks as scores, half as ranks
    all_scores = as_scores(ranks, TASKS)
    files = {
        "ranks.json": write_json(tmp_path / "ranks.json", ranks),
        "scores.json": write_json(tmp_path / "scores.json", all_scores),
        "half.json": write_json(tmp_path / "half.json", scores),
        "scores.csv": write_csv(tmp_path / "scores.csv", all_scores),
        "ranks.csv": write_csv(tmp_path / "ranks.csv", ranks, keys=False),
    }
    written = {
        name: _submission_bytes(path, test_file, tmp_path / f"out-{name}.json", predictor)
        for name, path in files.items()
    }
    reference = written.pop("ranks.json")
    assert {name: data == reference for name, data in written.items()} == dict.fromkeys(
        written, True
    )


def test_a_competition_file_gives_the_training_set_it_always_gave(tmp_path, shared_train):
    """The code before measurement files: every task's ranks as int64, nothing else."""
    for path in (shared_train, write_json(tmp_path / "small.json", _ranks())):
        frame, _ = reading.read_competition_file(path)
        features = encode.encode_archs(frame[ARCH_FIELD], "onehot")
        before = {task: frame[f"{task}_rank"].to_numpy(dtype=np.int64) for task in TASKS}
        now = encode.training_set(frame, features)
        assert now.rows == {}
        assert list(now.ranks) == list(TASKS)
        for task in TASKS:
            assert now.ranks[task].dtype == np.int64
            assert np.array_equal(now.ranks[task], before[task])
            assert now.task_features(task) is now.features
        assert np.array_equal(now.all_labels(), np.column_stack(list(before.values())))
        assert now.all_labels().dtype == np.int64


def _fit_events(caplog) -> dict[str, dict]:
    return {
        r.__dict__[EVENT_ATTR]["task"]: r.__dict__[EVENT_ATTR]
        for r in caplog.records
        if r.__dict__.get(EVENT_ATTR, {}).get("kind") == "fitted"
    }


def test_a_file_with_tasks_missing_runs_and_each_fit_reports_its_rows(tmp_path, test_file, caplog):
    path = write_json(tmp_path / "partial.json", as_scores(_partial(_ranks()), ["sop"]))
    caplog.set_level(logging.INFO, logger="tasks.predict.fitting")
    _submission_bytes(path, test_file, tmp_path / "out.json", "shared_relevance")
    events = _fit_events(caplog)
    expected = {task: len(TRAIN_ARCHS) - len(LACKING.get(task, [])) for task in TASKS}
    assert {task: e["rows"] for task, e in events.items()} == expected
    lines = [r.getMessage() for r in caplog.records if "fitted" in r.getMessage()]
    complete = len(TRAIN_ARCHS) - len(set(LACKING["cplfw"]) | set(LACKING["sop"]))
    shared = [r.getMessage() for r in caplog.records if "shared statistics" in r.getMessage()]
    assert shared[0].endswith(f", from the {complete} of 48 entries measured on every task")
    for task, rows in expected.items():
        assert any(
            line.startswith(f"{task}: fitted shared_relevance on {rows} archs") for line in lines
        )


def test_a_task_is_fitted_on_its_own_rows_and_shared_statistics_on_complete_rows(
    tmp_path, test_file
):
    training = _training(write_json(tmp_path / "partial.json", _partial(_ranks())))
    assert sorted(training.rows) == sorted(LACKING)
    assert list(training.rows["cplfw"]) == [
        i for i in range(len(TRAIN_ARCHS)) if i not in LACKING["cplfw"]
    ]
    X = training.features.astype(np.float64)
    Y = training.all_labels()
    complete = ~np.isnan(Y).any(axis=1)
    assert complete.sum() == len(TRAIN_ARCHS) - len(set(LACKING["cplfw"]) | set(LACKING["sop"]))
    cls = get_predictor_class("shared_relevance")
    shared = fitting.fit_shared_stats("shared_relevance", training)
    assert np.array_equal(shared.scale, cls.fit_shared(X[complete], Y[complete]).scale)

    rows = training.rows["cplfw"]
    test_features = encode.encode_archs(TEST_ARCHS, "onehot")
    by_hand = make_predictor("shared_relevance").fit(
        X[rows], training.labels("cplfw").astype(np.float64), shared=shared
    )
    assert np.array_equal(
        fitting.fit_and_predict_task("cplfw", "shared_relevance", training, test_features, shared),
        by_hand.predict(test_features),
    )


def test_too_few_entries_measured_on_every_task_refuse_shared_statistics_by_count():
    rng = np.random.default_rng(0)
    n = 10
    features = encode.encode_archs(TRAIN_ARCHS[:n], "onehot")
    ranks, rows = {}, {}
    for t, task in enumerate(TASKS):  # each task lacks a different half: 2 complete rows
        rows[task] = np.sort(np.setdiff1d(np.arange(n), [(t + k) % 8 for k in range(3)]))
        ranks[task] = rng.permutation(len(rows[task]))
    training = fitting.TrainingSet(features, ranks, rows)
    complete = int((~np.isnan(training.all_labels()).any(axis=1)).sum())
    message = (
        f"predictor 'shared_relevance' learns statistics shared by all tasks from the entries "
        f"measured on every task, and {complete} of the {n} training entries are"
    )
    with pytest.raises(ParameterError, match=message):
        fitting.require_fittable("shared_relevance", training)
    with pytest.raises(ParameterError, match="ensemble, gpnas"):
        fitting.fit_shared_stats("shared_relevance", training)
    fitting.require_fittable("ridge", training)  # a predictor of each task on its own: fine
    assert fitting.fit_task_model("cplfw", "ridge", training) is not None


def test_holdout_splits_a_tasks_own_rows_and_folds_share_only_their_complete_rows(tmp_path):
    training = _training(write_json(tmp_path / "partial.json", _partial(_ranks())))
    holdout = parse_holdout("kfold:3")
    rows = training.rows["sop"]
    expected = fold_taus(
        "shared_relevance",
        training.features[rows],
        training.labels("sop"),
        holdout,
        all_labels=training.all_labels()[rows],
    )
    taus = fitting.holdout_taus_for_task("sop", "shared_relevance", training, holdout)
    assert taus == expected and len(taus) == 3
    # A complete task's evaluation is today's call exactly.
    assert fitting.holdout_taus_for_task("veri", "ridge", training, holdout) == fold_taus(
        "ridge", training.features, training.labels("veri"), holdout
    )
    too_long = Holdout("last", len(rows) - 3)
    with pytest.raises(HoldoutError, match=f"^sop is measured on {len(rows)} of 48 entries: "):
        fitting.holdout_taus_for_task("sop", "ridge", training, too_long)


def test_evaluate_takes_each_task_on_the_rows_that_measure_it(tmp_path):
    training = _training(write_json(tmp_path / "partial.json", _partial(_ranks())))
    holdout = parse_holdout("last:10")
    table = evaluate_predictor("ridge", training.features, training.all_labels(), holdout)
    rows = training.rows["cplfw"]
    assert table["cplfw"].tolist() == fold_taus(
        "ridge", training.features[rows], training.labels("cplfw"), holdout
    )
    assert table["veri"].tolist() == fold_taus(
        "ridge", training.features, training.labels("veri"), holdout
    )


def test_a_training_set_refuses_ranks_that_do_not_fit_its_rows():
    features = encode.encode_archs(TRAIN_ARCHS[:6], "onehot")
    with pytest.raises(ValueError, match="cplfw: 6 ranks for 4 rows"):
        fitting.TrainingSet(features, {"cplfw": np.arange(6)}, {"cplfw": np.arange(4)})
    with pytest.raises(ValueError, match="sop: 5 ranks for 6 rows"):
        fitting.TrainingSet(features, {"sop": np.arange(5)})
