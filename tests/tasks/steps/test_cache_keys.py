"""Cache keys from content (tasks/steps/cache_keys.py): the same content gives the same key
however it is held, and any change a fit could see gives another."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from tasks.predict.evaluate import Holdout
from tasks.predict.fitting import TrainingSet
from tasks.steps.cache_keys import content_digest


def _no_fallback(value):
    raise AssertionError(f"fallback called for {value!r}")


def _key(value, fallback=_no_fallback) -> str:
    return content_digest(value, fallback)


def _inputs(features=None, **changes):
    rng = np.random.default_rng(0)
    train = rng.integers(0, 2, size=(20, 6)).astype(np.uint8)
    inputs = {
        "task_name": "sop",
        "predictor": "ridge",
        "train": TrainingSet(train, {"sop": np.arange(20), "veri": np.arange(20)[::-1].copy()}),
        "test_features": rng.integers(0, 2, size=(30, 6)).astype(np.uint8)
        if features is None
        else features,
        "holdout": Holdout("last", 5),
        "shared": None,
    }
    inputs.update(changes)
    return inputs


def test_the_same_content_gives_the_same_key_however_it_is_held():
    inputs = _inputs()
    again = _inputs(features=np.asfortranarray(inputs["test_features"]))  # other memory layout
    assert _key(inputs) == _key(again) == _key(dict(reversed(list(inputs.items()))))


def _one_byte_changed():
    inputs = _inputs()
    features = inputs["test_features"].copy()
    features[29, 5] ^= 1
    return _inputs(features=features)


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param(_one_byte_changed, id="one feature bit"),
        pytest.param(
            lambda: _inputs(features=_inputs()["test_features"].astype(np.int8)), id="dtype"
        ),
        pytest.param(
            lambda: _inputs(features=_inputs()["test_features"].reshape(60, 3)), id="shape"
        ),
        pytest.param(lambda: _inputs(holdout=Holdout("last", 6)), id="holdout size"),
        pytest.param(lambda: _inputs(holdout=Holdout("kfold", 5)), id="holdout kind"),
        pytest.param(lambda: _inputs(task_name="veri"), id="task"),
        pytest.param(lambda: _inputs(shared=0), id="None vs 0"),
        pytest.param(lambda: _inputs(predictor=["ridge"]), id="str vs list"),
        pytest.param(
            lambda: _inputs(train=TrainingSet(_inputs()["train"].features, {"sop": np.arange(20)})),
            id="one task's ranks fewer",
        ),
    ],
)
def test_any_change_a_fit_could_see_changes_the_key(changed):
    assert _key(changed()) != _key(_inputs())


@dataclass(frozen=True)
class _LookAlike:  # same field names and values as Holdout, another class
    kind: str
    size: int = 0


def test_dataclasses_are_told_apart_by_class_and_strings_cannot_run_together():
    assert _key(Holdout("last", 5)) != _key(_LookAlike("last", 5))
    assert _key(["ab", "c"]) != _key(["a", "bc"])
    assert _key({"a": 1}) != _key({"a": "1"})


def test_what_it_does_not_know_goes_to_the_fallback():
    seen = []

    def fallback(value):
        seen.append(value)
        return "digest-of-" + str(len(seen))

    marker = object()
    assert _key({"x": marker}, fallback) == _key({"x": marker}, lambda v: "digest-of-1")
    assert seen == [marker]
    strings = np.array(["a", "b"])  # not numbers: not hashed as raw bytes
    _key(strings, fallback)
    assert seen[-1] is strings
