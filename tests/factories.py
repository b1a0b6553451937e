"""Small competition files made in code."""

from __future__ import annotations

import copy
import csv
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


def rank_to_score(rank: int) -> float:
    """A measured metric implying `rank` (strictly decreasing: rank 0 has the highest)."""
    return 100.0 / (rank + 1.5)


def as_scores(records: dict[str, dict], tasks: tuple[str, ...] | list[str]) -> dict[str, dict]:
    """The same file with `<task>_rank` replaced by a `<task>_score` implying that rank."""
    out = copy.deepcopy(records)
    for entry in out.values():
        for task in tasks:
            if f"{task}_rank" in entry:
                entry[f"{task}_score"] = rank_to_score(entry.pop(f"{task}_rank"))
    return out


def without_task(records: dict[str, dict], task: str, keys: list[str]) -> dict[str, dict]:
    """The entries `keys` no longer measure `task`; the others' ranks become 0..m-1 in
    the same order (a valid file of measurements)."""
    out = copy.deepcopy(records)
    field = f"{task}_rank"
    for key in keys:
        out[key].pop(field)
    kept = sorted((entry[field], key) for key, entry in out.items() if field in entry)
    for rank, (_, key) in enumerate(kept):
        out[key][field] = rank
    return out


def write_csv(path: Path, records: dict[str, dict], keys: bool = True) -> Path:
    """Records as a CSV of measurements: `key` (unless keys=False), `arch`, one column per
    field any entry gives, an empty cell where an entry lacks it."""
    fields = list(dict.fromkeys(f for entry in records.values() for f in entry))
    header = (["key"] if keys else []) + fields
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for key, entry in records.items():
            cells = [repr(v) if isinstance(v, float) else v for v in map(entry.get, fields)]
            writer.writerow(([key] if keys else []) + ["" if c is None else c for c in cells])
    return path


def some_archs(n: int, seed: int = 0) -> list[str]:
    from schemas.search_space import sample_archs

    out = list(dict.fromkeys(sample_archs(n * 2, np.random.default_rng(seed))))
    return out[:n]


__all__ = [
    "ARCH_J",
    "ARCH_K",
    "ARCH_L",
    "as_scores",
    "encode_arch",
    "rank_to_score",
    "some_archs",
    "unlabelled_records",
    "train_records",
    "without_task",
    "write_csv",
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
