"""Feature encodings cached as Parquet, keyed by input content + encoding name + version.

A cache file carries its own key in the Parquet metadata and the arch strings it
encodes; a file that fails to read, has page checksum errors, or disagrees with its key
or the archs asked for is rebuilt, never trusted."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from schemas.encodings import get_encoding
from schemas.search_space import SCORE_FIELDS
from tasks import cancellation
from tasks.events import event
from tasks.files.atomic import atomic_target
from tasks.files.measurements import given, is_competition_layout, ranks_from_scores, task_fields

logger = logging.getLogger(__name__)
_META_KEY = b"ufo_encoding"
# Bumped when the file layout changes; older files then fail the key check and are rebuilt.
_CACHE_FORMAT = 3  # 3: features stored as uint8, one row group per block


@dataclass(frozen=True)
class EncodedArchs:
    features: np.ndarray
    feature_names: list[str]
    cache_path: Path
    cache_hit: bool


_ROWS_PER_BLOCK = 1 << 16  # archs encoded (and written as one Parquet row group) at a time


def _blocks(archs: Sequence[str]) -> Iterator[list[str]]:
    """Consecutive blocks of the archs as lists (a pandas Series is sliced by position)."""
    take = archs.iloc if isinstance(archs, pd.Series) else archs
    for start in range(0, len(archs), _ROWS_PER_BLOCK):
        # Ctrl-C stops hashing and encoding here; a cache file being written is removed
        # (atomic_target), so no half-written cache is left.
        cancellation.check()
        yield list(take[start : start + _ROWS_PER_BLOCK])


def archs_digest(archs: Sequence[str]) -> str:
    """Hash of the ordered arch strings: the only input an encoding depends on."""
    digest = hashlib.sha256()
    for block in _blocks(archs):
        digest.update(("\n".join(block) + "\n").encode("utf-8"))
    return digest.hexdigest()


def cache_file_for(cache_dir: Path, encoding_name: str, archs: Sequence[str]) -> Path:
    encoding = get_encoding(encoding_name)
    return (
        Path(cache_dir) / f"{encoding.name}-v{encoding.version}-{archs_digest(archs)[:24]}.parquet"
    )


def _cache_meta(encoding_name: str, archs: Sequence[str]) -> dict:
    encoding = get_encoding(encoding_name)
    return {
        "format": _CACHE_FORMAT,
        "encoding": encoding.name,
        "version": encoding.version,
        "digest": archs_digest(archs),
        "rows": len(archs),
    }


def _schema(names: list[str], meta: dict) -> pa.Schema:
    fields = [pa.field("arch", pa.string())] + [pa.field(n, pa.uint8()) for n in names]
    return pa.schema(fields, metadata={_META_KEY: json.dumps(meta).encode()})


def _encode_and_write(
    path: Path, archs: Sequence[str], encoding_name: str, names: list[str], meta: dict
) -> np.ndarray:
    """Encode block by block, each block one row group of the cache file; return the
    compact features. Peak memory: the features plus one block in float64."""
    encoding = get_encoding(encoding_name)
    features = np.empty((len(archs), len(names)), dtype=np.uint8)
    schema = _schema(names, meta)
    with atomic_target(path) as tmp:
        with pq.ParquetWriter(tmp, schema, compression="zstd", write_page_checksum=True) as writer:
            start = 0
            for block in _blocks(archs):
                compact = compact_features(encoding.build(block))
                features[start : start + len(block)] = compact
                start += len(block)
                columns = [pa.array(block, type=pa.string())]
                columns += [pa.array(compact[:, j]) for j in range(len(names))]
                writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    features.setflags(write=False)
    return features


def table_features(table: pa.Table) -> np.ndarray:
    """The feature matrix of a cache table (every column but `arch`), compact uint8."""
    names = [n for n in table.column_names if n != "arch"]
    features = np.column_stack([table.column(n).to_numpy() for n in names])
    features.setflags(write=False)
    return features


def _same_archs(stored: pa.ChunkedArray, archs: Sequence[str]) -> bool:
    if isinstance(archs, pd.Series) and isinstance(archs.array, pd.arrays.ArrowStringArray):
        ours = archs.array.__arrow_array__().cast(pa.string())  # no copy into Python
    else:
        ours = pa.chunked_array([pa.array(list(archs), type=pa.string())])
    return stored.cast(pa.string()).equals(ours)


def _read_cache(
    path: Path, archs: Sequence[str], names: list[str], meta: dict
) -> np.ndarray | None:
    """The cached features, or None (with the reason logged) when the file can't be trusted."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
    except (OSError, pa.ArrowException) as exc:
        logger.warning("encoding cache %s is unreadable (%s); rebuilding", path.name, exc)
        return None
    stored = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    if stored != meta or table.schema != _schema(names, meta) or table.num_rows != len(archs):
        logger.warning("encoding cache %s does not match its key; rebuilding", path.name)
        return None
    if not _same_archs(table.column("arch"), archs):
        logger.warning("encoding cache %s holds other archs; rebuilding", path.name)
        return None
    return table_features(table)


def encode_archs_cached(archs: Sequence[str], encoding_name: str, cache_dir: Path) -> EncodedArchs:
    """Encode `archs` (a list or a pandas Series) with the named encoding, reading or
    writing the Parquet cache. Features come back compact (uint8, read-only)."""
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
    features = _encode_and_write(path, archs, encoding_name, names, meta)
    logger.info(
        "encoding %s: cache miss, encoded %d archs into %s",
        encoding_name,
        len(archs),
        path.name,
        extra=event("encoded", encoding=encoding_name, archs=len(archs), hit=False),
    )
    return EncodedArchs(features, names, path, cache_hit=False)


def encode_archs(archs: Sequence[str], encoding_name: str) -> np.ndarray:
    """Compact features of `archs` without the cache, block by block."""
    encoding = get_encoding(encoding_name)
    blocks = [compact_features(encoding.build(block)) for block in _blocks(archs)]
    features = np.concatenate(blocks) if blocks else compact_features(encoding.build([]))
    features.setflags(write=False)
    return features


def compact_features(features: np.ndarray) -> np.ndarray:
    """A read-only uint8 copy when every value is a whole number in 0..255 (true of the
    one-hot and the seed notebook's bit encodings): 8x smaller to hold, to ship to Dask
    workers and to hash into cache keys. Predictors cast back to float64, so their
    results are bit-identical. Already-compact features are returned as they are."""
    if features.dtype == np.uint8 and not features.flags.writeable:
        return features
    compact = features.astype(np.uint8)
    if not np.array_equal(compact, features):
        raise ValueError("features are not whole numbers in 0..255; an encoding must be")
    compact.setflags(write=False)  # shared between threads: nobody may modify it
    return compact


def training_set(frame, features: np.ndarray):
    """The fits' input: compact features and every task's ranks from a validated frame.
    A file of measurements gives each task on the entries that measure it: their ranks,
    or ranks from their scores (tasks.files.measurements.ranks_from_scores), and, when
    some entry lacks the task, which rows those are."""
    from schemas.search_space import TASKS
    from tasks.predict.fitting import TrainingSet

    if is_competition_layout(frame):
        ranks = {task: frame[f"{task}_rank"].to_numpy(dtype=np.int64) for task in TASKS}
        rows = {}
    else:
        ranks, rows = _measured_ranks(frame)
    for values in [*ranks.values(), *rows.values()]:
        values.setflags(write=False)
    return TrainingSet(compact_features(features), ranks, rows)


def _measured_ranks(frame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each task's ranks on the entries that measure it, and those entries' rows for a
    task some entry lacks (a task every entry measures has no rows entry)."""
    ranks, rows = {}, {}
    for task, counts in task_fields(frame).items():
        (field,) = counts  # validated: one field per task
        mask = given(frame[field])
        values = frame[field][mask].to_numpy()
        if field in SCORE_FIELDS:
            ranks[task] = ranks_from_scores(values.astype(np.float64))
        else:
            ranks[task] = values.astype(np.int64)
        if not mask.all():
            rows[task] = np.flatnonzero(mask)
    return ranks, rows
