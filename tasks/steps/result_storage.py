"""Persisted fit results that cannot lie or run code.

Prefect stores a task result as a JSON record naming its serializer, and reads it back with
whatever serializer the file names: by default cloudpickle, so anyone who can write the
results folder runs code in the next run, and a flipped bit goes unnoticed. For the fits:

- `SafeSerializer` writes numeric arrays as .npy (np.load with allow_pickle=False), fitted
  predictors (the search's fits) as tasks/predict/predictors/state.py's JSON state, and anything
  else as plain JSON; none of them can execute code when read.
- `ChecksummedLocalFileSystem` stores each record behind a sha256 line and, on read,
  returns nothing (a cache miss, so the fit is recomputed and rewritten, with a warning)
  when the checksum does not match, the record names any other serializer, or its result
  is one SafeSerializer refuses to read (checked once here, before Prefect reads it)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
from pathlib import Path
from typing import Any, Literal

import numpy as np
from prefect.filesystems import LocalFileSystem
from prefect.serializers import Serializer

from tasks.predict.predictors.base import Predictor
from tasks.predict.predictors.state import StateError, dump_state, load_state

logger = logging.getLogger(__name__)

SERIALIZER_TYPE = "ufo-npy-json"
MAGIC = b"ufo-sha256:"
# The record is JSON text: no raw bytes.
_NPY, _JSON, _PREDICTOR = b"npy-base64\n", b"json\n", b"predictor-state\n"


class SafeSerializer(Serializer):
    """Numeric numpy arrays as .npy, fitted predictors as their state, everything else
    as JSON; never pickle."""

    type: Literal["ufo-npy-json"] = SERIALIZER_TYPE

    def dumps(self, obj: Any) -> bytes:
        if isinstance(obj, np.ndarray):
            if obj.dtype.kind not in "biuf":
                raise TypeError(f"only numeric arrays are stored, not {obj.dtype}")
            buffer = io.BytesIO()
            np.save(buffer, obj, allow_pickle=False)
            return _NPY + base64.b64encode(buffer.getvalue())
        if isinstance(obj, Predictor):
            try:
                return _PREDICTOR + dump_state(obj).encode()
            except StateError as bad:  # as json.dumps does for what it cannot hold
                raise TypeError(str(bad)) from None
        return _JSON + json.dumps(obj).encode()  # TypeError for anything JSON cannot hold

    def loads(self, blob: bytes) -> Any:
        if blob.startswith(_NPY):
            raw = base64.b64decode(blob[len(_NPY) :], validate=True)
            return np.load(io.BytesIO(raw), allow_pickle=False)
        if blob.startswith(_JSON):
            return json.loads(blob[len(_JSON) :])
        if blob.startswith(_PREDICTOR):
            return load_state(blob[len(_PREDICTOR) :])
        raise ValueError("not a ufo result")


class ResultCorrupted(ValueError):
    """A stored result whose checksum or serializer is wrong."""


def seal(content: bytes) -> bytes:
    return MAGIC + hashlib.sha256(content).hexdigest().encode() + b"\n" + content


def unseal(blob: bytes, where: str) -> bytes:
    """The record inside `blob`, or ResultCorrupted."""
    header, _, content = blob.partition(b"\n")
    if not header.startswith(MAGIC):
        raise ResultCorrupted(f"{where}: no checksum")
    if hashlib.sha256(content).hexdigest().encode() != header[len(MAGIC) :]:
        raise ResultCorrupted(f"{where}: checksum mismatch")
    try:
        record = json.loads(content)
        serializer = record["metadata"]["serializer"]["type"]
    except (ValueError, KeyError, TypeError):
        raise ResultCorrupted(f"{where}: not a result record") from None
    if serializer != SERIALIZER_TYPE:
        raise ResultCorrupted(f"{where}: serializer {serializer!r} is not allowed")
    # A record rewritten with a matching checksum could still hold what the serializer
    # refuses (a class outside the predictor state's list, say): a miss too, not a failure.
    try:
        SafeSerializer().loads(str(record["result"]).encode())
    except (ValueError, KeyError, TypeError, EOFError) as bad:
        raise ResultCorrupted(f"{where}: unreadable result ({bad})") from None
    return content


class ChecksummedLocalFileSystem(LocalFileSystem):
    """Local result storage that seals what it writes and refuses what fails its check."""

    _block_type_name = "UFO Checksummed Local File System"
    _block_type_slug = "ufo-checksummed-local-file-system"

    def _unsealed_or_none(self, path: str, blob: bytes) -> bytes | None:
        try:
            return unseal(blob, str(self._resolve_path(path)))
        except ResultCorrupted as bad:
            logger.warning("ignoring stored result %s; recomputing it", bad)
            return None

    def _exists(self, path: str) -> bool:
        return Path(self._resolve_path(path)).is_file()

    def read_path(self, path: str, _sync: bool | None = None) -> bytes | None:
        if not self._exists(path):  # as Prefect's own: a missing record is an error
            raise ValueError(f"Path {self._resolve_path(path)} does not exist.")
        blob = Path(self._resolve_path(path)).read_bytes()
        return self._unsealed_or_none(path, blob)

    async def aread_path(self, path: str) -> bytes | None:
        return self.read_path(path)

    def write_path(self, path: str, content: bytes, _sync: bool | None = None) -> str:
        target = Path(self._resolve_path(path))
        target.parent.mkdir(parents=True, exist_ok=True)
        from tasks.files.atomic import write_bytes_atomic

        write_bytes_atomic(target, seal(content))
        return str(target)

    async def awrite_path(self, path: str, content: bytes) -> str:
        return self.write_path(path, content)


def checksummed_storage(results_dir: Path) -> ChecksummedLocalFileSystem:
    """The storage block for `results_dir`, saved on the API server (Prefect accepts only
    saved blocks as a task's result storage); call inside a flow run."""
    results_dir = Path(results_dir).resolve()
    storage = ChecksummedLocalFileSystem(basepath=str(results_dir))
    name = "ufo-results-" + hashlib.sha256(str(results_dir).encode()).hexdigest()[:12]
    storage.save(name, overwrite=True)
    return storage
