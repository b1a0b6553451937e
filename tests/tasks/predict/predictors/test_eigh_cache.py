"""The shared eigendecomposition cache: same bytes, same answer, computed once; bounded;
a second thread waits for a decomposition in progress instead of repeating it."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from tasks.predict.predictors import eigh_cache
from tasks.predict.predictors.eigh_cache import EighCache


def _gram(n: int, seed: int) -> np.ndarray:
    A = np.random.default_rng(seed).normal(size=(n, 5))
    return A @ A.T


def test_a_hit_returns_what_eigh_returns_for_those_bytes():
    cache, gram = EighCache(), _gram(30, 0)
    evals, evecs = cache.eigh(gram)
    again = cache.eigh(gram.copy())  # equal content, another array
    direct = np.linalg.eigh(gram)
    assert again[0] is evals and again[1] is evecs
    assert evals.tobytes() == direct[0].tobytes() and evecs.tobytes() == direct[1].tobytes()
    assert (cache.stats.requests, cache.stats.computed) == (2, 1)
    assert not evecs.flags.writeable  # nobody can change a shared answer in place


def test_a_different_gram_is_a_different_entry():
    cache, gram = EighCache(), _gram(30, 0)
    cache.eigh(gram)
    nudged = gram.copy()
    nudged[0, 0] += 1e-12
    cache.eigh(nudged)
    assert cache.stats.computed == 2


def test_bounded_by_bytes_least_recently_used_first_out():
    one = 30 * 8 + 30 * 30 * 8  # evals + evecs of a 30 x 30 Gram
    cache = EighCache(limit_bytes=2 * one)
    a, b, c = (_gram(30, s) for s in range(3))
    cache.eigh(a)
    cache.eigh(b)
    cache.eigh(a)  # a is now the most recently used
    cache.eigh(c)  # evicts b
    assert cache.stats.computed == 3
    cache.eigh(a)
    assert cache.stats.computed == 3
    cache.eigh(b)
    assert cache.stats.computed == 4
    disabled = EighCache(limit_bytes=0)
    disabled.eigh(a)
    disabled.eigh(a)
    assert disabled.stats.computed == 2


def test_concurrent_requests_for_one_gram_decompose_it_once(monkeypatch):
    real = np.linalg.eigh

    def slow_eigh(gram):
        time.sleep(0.3)  # long enough for the other thread to arrive meanwhile
        return real(gram)

    monkeypatch.setattr(eigh_cache.np.linalg, "eigh", slow_eigh)
    cache, gram = EighCache(), _gram(40, 1)
    start = threading.Barrier(2)
    results = []

    def worker():
        start.wait()
        results.append(cache.eigh(gram))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.stats.computed == 1
    assert results[0][1] is results[1][1]


def test_limit_context_restores_the_process_cache():
    before = eigh_cache._CACHE.limit_bytes
    with eigh_cache.eigh_cache_limit(0) as cache:
        assert cache.limit_bytes == 0
    assert eigh_cache._CACHE.limit_bytes == before
    with pytest.raises(RuntimeError), eigh_cache.eigh_cache_limit(1):
        raise RuntimeError
    assert eigh_cache._CACHE.limit_bytes == before
