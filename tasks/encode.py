"""Feature encodings cached as Parquet, keyed by input content + encoding name + version.

A cache file carries its own key in the Parquet metadata and the arch strings it
encodes; a file that fails to read, has page checksum errors, or disagrees with its key
or the archs asked for is rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.encodings import get_encoding
from tasks.events import event
from tasks.io import atomic_target

logger = logging.getLogger(__name__)
_META_KEY = b"ufo_encoding"
# Bumped when the file layout changes; older files then fail the key check and are rebuilt.
_CACHE_FORMAT = 2


@dataclass(frozen=True)
class EncodedArchs:
    features: np.ndarray
    feature_names: list[str]
    cache_path: Path
    cache_hit: bool


def archs_digest(archs: list[str]) -> str:
    """Hash of the ordered arch strings: the only input an encoding depends on."""
    digest = hashlib.sha256()
    for arch in archs:
        digest.update(arch.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def cache_file_for(cache_dir: Path, encoding_name: str, archs: list[str]) -> Path:
    encoding = get_encoding(encoding_name)
    return (
        Path(cache_dir) / f"{encoding.name}-v{encoding.version}-{archs_digest(archs)[:24]}.parquet"
    )


def _cache_meta(encoding_name: str, archs: list[str]) -> dict:
    encoding = get_encoding(encoding_name)
    return {
        "format": _CACHE_FORMAT,
        "encoding": encoding.name,
        "version": encoding.version,
        "digest": archs_digest(archs),
        "rows": len(archs),
    }


def _write_cache(
    path: Path, archs: list[str], features: np.ndarray, names: list[str], meta: dict
) -> None:
    columns = {"arch": pa.array(archs, type=pa.string())}
    for j, name in enumerate(names):
        # float64, so a cache hit returns exactly what a fresh encoding would
        columns[name] = pa.array(features[:, j], type=pa.float64())
    table = pa.table(columns).replace_schema_metadata({_META_KEY: json.dumps(meta).encode()})
    with atomic_target(path) as tmp:
        pq.write_table(table, tmp, write_page_checksum=True, compression="zstd")


def table_features(table: pa.Table) -> np.ndarray:
    """The feature matrix of a cache table (every column but `arch`), as float64."""
    names = [n for n in table.column_names if n != "arch"]
    return np.column_stack([table.column(n).to_numpy() for n in names]).astype(np.float64)


def load_cached_features(path: Path | str) -> np.ndarray:
    """Features from a cache file written by encode_archs_cached (checksums verified)."""
    return table_features(pq.read_table(path, page_checksum_verification=True))


def _read_cache(path: Path, archs: list[str], names: list[str], meta: dict) -> np.ndarray | None:
    """The cached features, or None (with the reason logged) when the file can't be trusted."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException) as exc:
        logger.warning("encoding cache %s is unreadable (%s); rebuilding", path.name, exc)
        return None
    stored = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    if stored != meta or table.column_names != ["arch", *names] or table.num_rows != len(archs):
        logger.warning("encoding cache %s does not match its key; rebuilding", path.name)
        return None
    if table.column("arch").to_pylist() != archs:
        logger.warning("encoding cache %s holds other archs; rebuilding", path.name)
        return None
    features = table_features(table) if names else None
    if features is None or not np.all(np.isfinite(features)):
        logger.warning("encoding cache %s holds non-finite values; rebuilding", path.name)
        return None
    return features


def encode_archs_cached(archs: list[str], encoding_name: str, cache_dir: Path) -> EncodedArchs:
    """Encode `archs` with the named encoding, reading or writing the Parquet cache."""
    encoding = get_encoding(encoding_name)
    names = encoding.feature_names()
    path = cache_file_for(cache_dir, encoding_name, archs)
    meta = _cache_meta(encoding_name, archs)
    if path.exists():
        features = _read_cache(path, archs, names, meta)
        if features is not None:
            logger.info(
                "encoding %s: cache hit, read %d archs from %s",
                encoding_name,
                len(archs),
                path.name,
                extra=event("encoded", encoding=encoding_name, archs=len(archs), hit=True),
            )
            return EncodedArchs(features, names, path, cache_hit=True)
    features = encoding.build(archs)
    _write_cache(path, archs, features, names, meta)
    logger.info(
        "encoding %s: cache miss, encoded %d archs into %s",
        encoding_name,
        len(archs),
        path.name,
        extra=event("encoded", encoding=encoding_name, archs=len(archs), hit=False),
    )
    return EncodedArchs(features, names, path, cache_hit=False)


def compact_features(features: np.ndarray) -> np.ndarray:
    """A uint8 copy when every value is a whole number in 0..255 (true of the one-hot and
    the seed notebook's bit encodings): 8x smaller to ship to Dask workers and to hash into
    cache keys. Predictors cast back to float64, so their results are bit-identical."""
    compact = features.astype(np.uint8)
    if not np.array_equal(compact, features):
        raise ValueError("features are not whole numbers in 0..255; keep them as float64")
    compact.setflags(write=False)  # shared between threads: nobody may modify it
    return compact


def training_set(frame, features: np.ndarray):
    """The fits' input: compact features and every task's ranks from a validated frame."""
    from schemas.search_space import TASKS
    from tasks.fitting import TrainingSet

    ranks = {task: frame[f"{task}_rank"].to_numpy(dtype=np.int64) for task in TASKS}
    for values in ranks.values():
        values.setflags(write=False)
    return TrainingSet(compact_features(features), ranks)
