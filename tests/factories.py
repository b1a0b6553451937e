"""Small competition files made in code."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from schemas.search_space import RANK_FIELDS, encode_arch

# Three hand-written archs, one per depth.
ARCH_J = "j111231321311311221231121111231000000"
ARCH_K = "k111221321131331321311321311311321000"
ARCH_L = "l231131331121121331111211121331321321"


def train_records(archs: list[str], seed: int = 0) -> dict[str, dict]:
    """A labelled file: each task's ranks a seeded permutation of 0..n-1."""
    rng = np.random.default_rng(seed)
    records = {f"arch{i + 1}": {"arch": a} for i, a in enumerate(archs)}
    for field in RANK_FIELDS:
        perm = rng.permutation(len(archs))
        for i, key in enumerate(records):
            records[key][field] = int(perm[i])
    return records


def unlabelled_records(archs: list[str]) -> dict[str, dict]:
    return {f"arch{i + 1}": {**{f: 0 for f in RANK_FIELDS}, "arch": a} for i, a in enumerate(archs)}


def write_json(path: Path, payload: object) -> Path:
    path.write_text(json.dumps(payload))
    return path


def some_archs(n: int, seed: int = 0) -> list[str]:
    from schemas.search_space import sample_archs

    out = list(dict.fromkeys(sample_archs(n * 2, np.random.default_rng(seed))))
    return out[:n]


__all__ = [
    "ARCH_J",
    "ARCH_K",
    "ARCH_L",
    "encode_arch",
    "some_archs",
    "unlabelled_records",
    "train_records",
    "write_json",
]


def labelled_onehot(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """One-hot archs and a rank target driven by 'code 3' choices plus noise."""
    from schemas.encodings import get_encoding
    from schemas.search_space import sample_archs

    rng = np.random.default_rng(seed)
    X = get_encoding("onehot").build(sample_archs(n, rng))
    signal = X[:, 5::3] @ rng.normal(size=X[:, 5::3].shape[1]) + 0.3 * rng.normal(size=n)
    return X, np.argsort(np.argsort(signal)).astype(float)
