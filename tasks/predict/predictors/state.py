"""A fitted predictor as plain data, and back, without pickle.

`ufo search` keeps its eight fitted predictors between runs so that another objective or
budget on the same training file refits nothing. Pickle would let whoever can write the
results folder run code in the next search. This format holds only:

- None, bool, int, float (NaN and infinities included), str;
- lists, tuples and dicts with str keys;
- numeric numpy arrays, as .npy read back with allow_pickle=False (np.matrix is kept as
  such: paddleslim's GP-NAS computes with it);
- instances of the classes in `state_classes()`, the project's predictor families and the
  models inside them, each rebuilt with `cls.__new__` and its saved attributes: none of
  their code runs while reading, and a class outside that list is refused.

`dump_state(obj) -> str` and `load_state(text) -> obj` are exact inverses for every
registered family (tests/tasks/predict/predictors/test_contract.py)."""

from __future__ import annotations

import base64
import io
import json
from functools import cache
from typing import Any

import numpy as np

FORMAT = "ufo-predictor-state/1"
_GPNAS = "paddleslim.GPNAS"  # loaded from paddleslim's file under its own module name


class StateError(ValueError):
    """Something in a state that this format does not hold, or refuses to rebuild."""


@cache
def state_classes() -> dict[str, type]:
    """Every class a state may name, by a stable name (not the import path, so that
    moving a class does not change what a name means)."""
    from tasks.predict.predictors import PREDICTORS
    from tasks.predict.predictors.ensemble import RelevanceKernelRidgeModel
    from tasks.predict.predictors.kernel_ridge import KernelRidgeModel, KernelSpec
    from tasks.predict.predictors.shared_relevance import SharedRelevance

    classes: dict[str, type] = {f"predictor.{name}": cls for name, cls in PREDICTORS.items()}
    for cls in (KernelRidgeModel, RelevanceKernelRidgeModel, KernelSpec, SharedRelevance):
        classes[f"model.{cls.__name__}"] = cls
    return classes


@cache
def _gpnas_class() -> type:
    from tasks.predict.predictors.gpnas import load_gpnas_module

    return load_gpnas_module().GPNAS


def _class_name(obj: object) -> str:
    for name, cls in state_classes().items():
        if type(obj) is cls:
            return name
    if type(obj).__name__ == "GPNAS" and type(obj) is _gpnas_class():
        return _GPNAS
    raise StateError(f"a {type(obj).__module__}.{type(obj).__qualname__} cannot be stored")


def _array_to_json(array: np.ndarray) -> dict:
    if array.dtype.kind not in "biuf":
        raise StateError(f"only numeric arrays are stored, not {array.dtype}")
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    encoded = {"npy": base64.b64encode(buffer.getvalue()).decode("ascii")}
    if isinstance(array, np.matrix):
        encoded["matrix"] = True
    if not array.flags.writeable:
        encoded["readonly"] = True
    return {"__array__": encoded}


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return float(value)
    if isinstance(value, np.generic):  # numpy scalars: as the array they are, 0-d
        return _array_to_json(np.asarray(value)) | {"scalar": True}
    if isinstance(value, np.ndarray):
        return _array_to_json(value)
    if isinstance(value, list):
        return [_to_json(item) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_to_json(item) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise StateError("only dicts with str keys are stored")
        return {"__dict__": {key: _to_json(item) for key, item in value.items()}}
    return {
        "__object__": _class_name(value),
        "attributes": {key: _to_json(item) for key, item in vars(value).items()},
    }


def dump_state(obj: object) -> str:
    """JSON text for a fitted predictor (or any value this format holds)."""
    return json.dumps({"format": FORMAT, "value": _to_json(obj)}, sort_keys=True)


def _array_from_json(encoded: dict) -> Any:
    raw = base64.b64decode(encoded["npy"], validate=True)
    array = np.load(io.BytesIO(raw), allow_pickle=False)
    if array.dtype.kind not in "biuf":
        raise StateError(f"array of {array.dtype} refused")
    if encoded.get("matrix"):
        array = np.asmatrix(array)
    if encoded.get("readonly"):
        array.setflags(write=False)
    return array


def _from_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return [_from_json(item) for item in value]
    if not isinstance(value, dict) or len(value) not in (1, 2):
        raise StateError(f"unexpected {type(value).__name__} in a predictor state")
    if "__array__" in value:
        array = _array_from_json(value["__array__"])
        return array[()] if value.get("scalar") else array
    if "__tuple__" in value:
        return tuple(_from_json(item) for item in value["__tuple__"])
    if "__dict__" in value:
        return {str(key): _from_json(item) for key, item in value["__dict__"].items()}
    if "__object__" in value:
        name = value["__object__"]
        cls = _gpnas_class() if name == _GPNAS else state_classes().get(name)
        if cls is None:
            raise StateError(f"class {name!r} is not one this format rebuilds")
        obj = cls.__new__(cls)
        # vars() update, not setattr: frozen dataclasses (KernelSpec) are rebuilt too,
        # and no __setattr__ or property of the class runs.
        vars(obj).update({str(key): _from_json(item) for key, item in value["attributes"].items()})
        return obj
    raise StateError(f"unknown entry {sorted(value)} in a predictor state")


def load_state(text: str | bytes) -> Any:
    """The value `dump_state` wrote; StateError for anything else."""
    try:
        document = json.loads(text)
    except ValueError as bad:
        raise StateError(f"not a predictor state: {bad}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise StateError(f"not a predictor state of format {FORMAT}")
    try:
        return _from_json(document["value"])
    except (KeyError, TypeError, ValueError) as bad:
        if isinstance(bad, StateError):
            raise
        raise StateError(f"malformed predictor state: {bad!r}") from None
