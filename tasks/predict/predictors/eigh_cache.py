"""Eigendecompositions shared between fits whose Gram matrix is the same.

The eight tasks are fitted on the same training rows, so every kernel that does not depend
on the labels (the plain members, and the relevance-weighted members once their scale is
shared across tasks) gives the same Gram matrix for all eight: its eigendecomposition, the
costly part of the exact LOO search, is computed once per process and reused. Keyed by the
Gram's content (shape, dtype and a BLAKE2 digest of its bytes), so a hit returns exactly what
`np.linalg.eigh` returned for those bytes: sharing changes speed, never results. Bounded by
bytes (least recently used first out); fits running in threads of one process share it, and
a second thread asking for a Gram being decomposed waits for it instead of repeating it."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

# Enough for two training sets of 500 rows x 32 kernels (the holdout's and the final fit's).
DEFAULT_LIMIT_BYTES = 160 * 1024 * 1024


@dataclass
class EighStats:
    requests: int = 0
    computed: int = 0


class EighCache:
    def __init__(self, limit_bytes: int = DEFAULT_LIMIT_BYTES) -> None:
        self.limit_bytes = limit_bytes
        self.stats = EighStats()
        self._entries: OrderedDict[tuple, tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._pending: dict[tuple, threading.Lock] = {}

    @staticmethod
    def key(gram: np.ndarray) -> tuple:
        gram = np.ascontiguousarray(gram)
        return (gram.shape, gram.dtype.str, hashlib.blake2b(gram.data, digest_size=20).digest())

    def _lookup(self, key: tuple) -> tuple[np.ndarray, np.ndarray] | None:
        hit = self._entries.get(key)
        if hit is not None:
            self._entries.move_to_end(key)
        return hit

    def eigh(self, gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(eigenvalues, eigenvectors) of a symmetric matrix, read-only arrays."""
        key = self.key(gram)
        with self._lock:
            self.stats.requests += 1
            hit = self._lookup(key)
            if hit is not None:
                return hit
            pending = self._pending.setdefault(key, threading.Lock())
        with pending:  # one thread decomposes a given Gram; the others wait for it
            with self._lock:
                hit = self._lookup(key)
                if hit is not None:
                    return hit
            evals, evecs = np.linalg.eigh(gram)
            evals.setflags(write=False)
            evecs.setflags(write=False)
            with self._lock:
                self.stats.computed += 1
                self._store(key, (evals, evecs))
                self._pending.pop(key, None)
        return evals, evecs

    def _store(self, key: tuple, value: tuple[np.ndarray, np.ndarray]) -> None:
        size = value[0].nbytes + value[1].nbytes
        if size > self.limit_bytes:
            return
        self._entries[key] = value
        self._bytes += size
        while self._bytes > self.limit_bytes:
            _, (old_vals, old_vecs) = self._entries.popitem(last=False)
            self._bytes -= old_vals.nbytes + old_vecs.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.stats = EighStats()


_CACHE = EighCache()


def gram_eigh(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The process-wide shared eigendecomposition of a Gram matrix."""
    return _CACHE.eigh(gram)


@contextmanager
def eigh_cache_limit(limit_bytes: int):
    """Temporarily bound (0 = disable) the shared cache, starting empty; for the cost
    bench's "no sharing" run and for tests."""
    previous = _CACHE.limit_bytes
    _CACHE.clear()
    _CACHE.limit_bytes = limit_bytes
    try:
        yield _CACHE
    finally:
        _CACHE.clear()
        _CACHE.limit_bytes = previous
