"""Persisted fit results cannot lie or run code: a flipped bit is caught and the fit
recomputed; a record naming pickle is never unpickled."""

import base64
import io
import json
import logging
import pickle

import numpy as np
import pytest

from tasks import paths
from tasks.steps.result_storage import (
    ChecksummedLocalFileSystem,
    ResultCorrupted,
    SafeSerializer,
    seal,
    unseal,
)


def test_the_serializer_round_trips_arrays_and_json_and_refuses_the_rest():
    serializer = SafeSerializer()
    array = np.linspace(-1, 1, 7)
    assert np.array_equal(serializer.loads(serializer.dumps(array)), array)
    assert serializer.loads(serializer.dumps([0.25, float("nan")]))[0] == 0.25
    for unstorable in (np.array([object()]), {1, 2}, object()):
        with pytest.raises(TypeError):
            serializer.dumps(unstorable)


def _record(serializer_type: str, result: str) -> bytes:
    return json.dumps(
        {
            "metadata": {"storage_key": "k", "serializer": {"type": serializer_type}},
            "result": result,
        }
    ).encode()


class _Payload:
    """Unpickling this writes a file: proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_record_naming_pickle_is_refused_even_with_a_good_checksum(tmp_path, caplog):
    marker = tmp_path / "code-ran"
    evil = base64.b64encode(pickle.dumps(_Payload(str(marker)))).decode()
    storage = ChecksummedLocalFileSystem(basepath=str(tmp_path / "results"))
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "k").write_bytes(seal(_record("pickle", evil)))
    with caplog.at_level(logging.WARNING):
        assert storage.read_path("k") is None
    assert "serializer 'pickle' is not allowed" in caplog.text
    assert not marker.exists()


def test_unseal_catches_a_flipped_bit_and_a_missing_seal():
    record = _record("ufo-npy-json", "json\n[1.5]")
    sealed = seal(record)
    assert unseal(sealed, "r") == record
    for i in (5, len(sealed) // 2, len(sealed) - 3):
        flipped = bytearray(sealed)
        flipped[i] ^= 0x01
        with pytest.raises(ResultCorrupted):
            unseal(bytes(flipped), "r")
    with pytest.raises(ResultCorrupted, match="no checksum"):
        unseal(record, "r")


def _fit_records(folder):
    found = {}
    if not folder.is_dir():  # nothing stored yet in this test session
        return found
    for path in folder.iterdir():
        if path.is_file():
            blob = path.read_bytes()
            if blob.startswith(b"ufo-sha256:"):
                found[path] = json.loads(blob.partition(b"\n")[2])
    return found


class _Collect(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_a_flipped_bit_in_a_stored_fit_is_recomputed(prefect_harness, tmp_path):
    from flows.pipeline import ufo_pipeline
    from tasks.files.writing import frame_to_records, write_competition_file
    from tasks.predict.synthetic import make_demo_train, make_test_standin

    train = make_demo_train(80, seed=11)
    write_competition_file(tmp_path / "train.json", frame_to_records(train))
    test_frame = make_test_standin(list(train["arch"]), 200, seed=12)
    write_competition_file(tmp_path / "test.json", frame_to_records(test_frame))
    args = dict(train=str(tmp_path / "train.json"), test=str(tmp_path / "test.json"))
    args.update(predictor="ridge", holdout="last:10", holdout_seed=11)
    # The results folder is shared by the whole test session: take this run's records only.
    before = set(_fit_records(paths.results_dir()))
    ufo_pipeline(**args, out=str(tmp_path / "clean.json"))
    records = _fit_records(paths.results_dir())
    fits = [
        p for p, r in records.items() if p not in before and r["result"].startswith("npy-base64")
    ]
    assert len(fits) >= 8, "the fits' results were not persisted"

    # Flip one bit of the stored scores: the top exponent bit of the first float (the
    # base64 text around it is re-encoded, the checksum line left as it was).
    target = fits[0]
    header, _, body = target.read_bytes().partition(b"\n")
    record = json.loads(body)
    raw = bytearray(base64.b64decode(record["result"].removeprefix("npy-base64\n")))
    scores = np.load(io.BytesIO(bytes(raw)))
    data_start = len(raw) - scores.nbytes
    raw[data_start + 7] ^= 0x40  # float64, little-endian: byte 7 holds sign and exponent
    assert np.load(io.BytesIO(bytes(raw)))[0] != scores[0]
    record["result"] = "npy-base64\n" + base64.b64encode(bytes(raw)).decode()
    target.write_bytes(header + b"\n" + json.dumps(record).encode())
    warnings = _Collect()
    logging.getLogger("tasks.steps.result_storage").addHandler(
        warnings
    )  # Prefect stops propagation
    try:
        ufo_pipeline(**args, out=str(tmp_path / "again.json"))
    finally:
        logging.getLogger("tasks.steps.result_storage").removeHandler(warnings)
    assert (tmp_path / "again.json").read_bytes() == (tmp_path / "clean.json").read_bytes()
    assert [m for m in warnings.messages if m.startswith(f"ignoring stored result {target}")] == [
        f"ignoring stored result {target}: checksum mismatch; recomputing it"
    ]
    assert unseal(target.read_bytes(), "rewritten")  # recomputed and stored whole again
