"""The plain-data state of a fitted predictor (tasks/predict/predictors/state.py) holds numbers,
text and the project's own model classes, and refuses anything else, both ways."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tasks.predict.predictors import make_predictor
from tasks.predict.predictors.state import StateError, dump_state, load_state


def test_plain_values_round_trip_with_their_types():
    value = {
        "tuple": (1, 2.5, "x"),
        "list": [None, True, float("inf")],
        "matrix": np.asmatrix(np.eye(2)),
        "int8": np.arange(3, dtype=np.int8),
        "scalar": np.int64(7),
    }
    frozen = np.arange(4.0)
    frozen.setflags(write=False)
    value["frozen"] = frozen
    back = load_state(dump_state(value))
    assert back["tuple"] == (1, 2.5, "x") and back["list"][:2] == [None, True]
    assert back["list"][2] == float("inf")
    assert isinstance(back["matrix"], np.matrix) and np.array_equal(back["matrix"], np.eye(2))
    assert back["int8"].dtype == np.int8 and back["scalar"] == 7
    assert isinstance(back["scalar"], np.int64)
    assert not back["frozen"].flags.writeable


class _Stranger:
    pass


@pytest.mark.parametrize(
    "value, message",
    [
        (_Stranger(), "cannot be stored"),
        (np.array(["a"]), "only numeric arrays"),
        (np.array([object()]), "only numeric arrays"),
        ({1: 2}, "str keys"),
    ],
)
def test_what_the_format_does_not_hold_is_refused_when_writing(value, message):
    with pytest.raises(StateError, match=message):
        dump_state(value)


def _state_naming(class_name: str) -> str:
    return json.dumps(
        {
            "format": "ufo-predictor-state/1",
            "value": {"__object__": class_name, "attributes": {"args": {"__tuple__": ["id"]}}},
        }
    )


@pytest.mark.parametrize("class_name", ["os.system", "subprocess.Popen", "builtins.eval"])
def test_a_state_naming_any_other_class_is_refused_and_nothing_is_built(class_name):
    with pytest.raises(StateError, match="is not one this format rebuilds"):
        load_state(_state_naming(class_name))


def test_a_state_with_a_pickled_array_is_refused():
    import base64
    import io

    buffer = io.BytesIO()
    np.save(buffer, np.array([object()]), allow_pickle=True)
    text = json.dumps(
        {
            "format": "ufo-predictor-state/1",
            "value": {"__array__": {"npy": base64.b64encode(buffer.getvalue()).decode()}},
        }
    )
    with pytest.raises(StateError, match="malformed predictor state"):
        load_state(text)


@pytest.mark.parametrize("text", ["[]", "not json", '{"format": "other", "value": 1}'])
def test_text_that_is_not_a_state_is_refused(text):
    with pytest.raises(StateError, match="not a predictor state"):
        load_state(text)


def test_a_rebuilt_gpnas_still_answers_through_paddleslim():
    """The GP-NAS family keeps paddleslim's own object (with np.matrix weights): its
    rebuilt state must still work with paddleslim's get_predict, not only the fast path."""
    rng = np.random.default_rng(0)
    X = rng.integers(1, 4, size=(40, 37)).astype(float)
    y = rng.permutation(40).astype(float)
    model = make_predictor("gpnas").fit(X, y)
    rebuilt = load_state(dump_state(model))
    np.testing.assert_array_equal(
        rebuilt.paddleslim_predict(X[:5]), model.paddleslim_predict(X[:5])
    )
