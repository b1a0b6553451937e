"""The flow with a predictor that learns across tasks (issue 12): one shared-statistics step
before the eight fits, whose output every fit takes as an input."""

from __future__ import annotations

import json

from schemas.search_space import ARCH_FIELD, RANK_FIELDS
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict import fitting
from tasks.predict.synthetic import make_demo_train, make_test_standin


def test_the_shared_statistics_are_computed_once_and_given_to_every_fit(
    prefect_harness, tmp_path, monkeypatch
):
    from flows.pipeline import ufo_pipeline

    train = make_demo_train(80, seed=3)
    test = make_test_standin(list(train[ARCH_FIELD]), 120, seed=4)
    train_path, test_path, out = (
        tmp_path / "train.json",
        tmp_path / "test.json",
        tmp_path / "s.json",
    )
    write_competition_file(train_path, frame_to_records(train))
    write_competition_file(test_path, frame_to_records(test))

    computed, given = [], []
    real_shared, real_fit = fitting.fit_shared_stats, fitting.fit_and_predict_task

    def counting_shared(predictor_name, train_set):
        computed.append(real_shared(predictor_name, train_set))
        return computed[-1]

    def recording_fit(task, predictor_name, train_set, test_features, shared=None):
        given.append(shared)
        return real_fit(task, predictor_name, train_set, test_features, shared)

    monkeypatch.setattr(fitting, "fit_shared_stats", counting_shared)
    monkeypatch.setattr(fitting, "fit_and_predict_task", recording_fit)
    state = ufo_pipeline(
        train=str(train_path),
        test=str(test_path),
        out=str(out),
        predictor="shared_relevance",
        holdout="none",
        refit=True,
        return_state=True,
    )
    assert state.result() == str(out)
    assert len(computed) == 1, "one shared step, not one per fit"
    assert len(given) == len(RANK_FIELDS)
    assert all(shared is not None for shared in given)
    assert all(s.scale.tobytes() == computed[0].scale.tobytes() for s in given)
    submission = json.loads(out.read_text())
    for field in RANK_FIELDS:
        assert sorted(entry[field] for entry in submission.values()) == list(range(120))
