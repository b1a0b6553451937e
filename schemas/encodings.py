"""Feature encodings of arch strings: names, versions and the builders.

Bump an encoding's version whenever its output changes: the version is part of the
Parquet cache key, so stale cache files are never read for a new definition."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from schemas.search_space import CHOICE_CODES, MAX_DEPTH, choice_matrix

# The seed notebook's convert_X: layers 1-10 give 4 features per heads/mlp code,
# layers 11-12 give 5 (the fifth flags a missing layer). The depth character itself
# is skipped by the notebook; depth shows only through those missing-layer flags.
_SEED_CODE_BITS = {
    0: (0, 0, 0, 0),
    1: (1, 1, 0, 0),
    2: (0, 1, 1, 0),
    3: (0, 0, 1, 1),
}
_SEED_TAIL_BITS = {
    0: (0, 0, 0, 0, 1),
    1: (1, 1, 0, 0, 0),
    2: (0, 1, 1, 0, 0),
    3: (0, 0, 1, 1, 0),
}
_SEED_TAIL_FROM_LAYER = 10


def _lookup(table: dict[int, tuple[int, ...]]) -> np.ndarray:
    return np.array([table[c] for c in range(4)], dtype=np.float64)


def notebook_feature_names() -> list[str]:
    names = []
    for layer in range(MAX_DEPTH):
        width = 5 if layer >= _SEED_TAIL_FROM_LAYER else 4
        for dim in ("heads", "mlp"):
            names += [f"L{layer + 1}_{dim}_b{bit}" for bit in range(width)]
    return names


def encode_notebook(codes: list[str]) -> np.ndarray:
    """The seed notebook's 100-feature encoding, same order and values as convert_X."""
    choices = choice_matrix(codes)
    head_tab, tail_tab = _lookup(_SEED_CODE_BITS), _lookup(_SEED_TAIL_BITS)
    front = head_tab[choices[:, :_SEED_TAIL_FROM_LAYER, :]]  # (n, 10, 2, 4)
    tail = tail_tab[choices[:, _SEED_TAIL_FROM_LAYER:, :]]  # (n, 2, 2, 5)
    n = len(codes)
    return np.concatenate([front.reshape(n, -1), tail.reshape(n, -1)], axis=1)


def onehot_feature_names() -> list[str]:
    names = [f"depth_{d}" for d in (10, 11, 12)]
    for layer in range(MAX_DEPTH):
        for dim in ("heads", "mlp"):
            names += [f"L{layer + 1}_{dim}_{code}" for code in CHOICE_CODES]
    return names


def encode_onehot(codes: list[str]) -> np.ndarray:
    """Per-layer one-hot: depth (3) then, per layer, heads code and mlp code one-hot
    (3 + 3); a layer past the depth is all zeros."""
    choices = choice_matrix(codes)
    n = len(codes)
    present = choices[:, :, :, None] == np.arange(1, 4, dtype=np.uint8)[None, None, None, :]
    depth_code = (choices[:, :, 0] > 0).sum(axis=1)
    depth = depth_code[:, None] == np.array([10, 11, 12])[None, :]
    return np.concatenate([depth, present.reshape(n, -1)], axis=1).astype(np.float64)


@dataclass(frozen=True)
class Encoding:
    name: str
    version: int
    build: Callable[[list[str]], np.ndarray]
    feature_names: Callable[[], list[str]]
    description: str


ENCODINGS: dict[str, Encoding] = {
    "notebook": Encoding(
        "notebook",
        1,
        encode_notebook,
        notebook_feature_names,
        "the seed notebook's convert_X (100 features)",
    ),
    "onehot": Encoding(
        "onehot",
        1,
        encode_onehot,
        onehot_feature_names,
        "depth + per-layer heads/mlp one-hot (75 features)",
    ),
}


def get_encoding(name: str) -> Encoding:
    try:
        return ENCODINGS[name]
    except KeyError:
        raise KeyError(f"unknown encoding {name!r}; known: {sorted(ENCODINGS)}") from None
