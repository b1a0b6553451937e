import logging

import numpy as np
import pyarrow.parquet as pq
import pytest

from schemas.encodings import encode_notebook, encode_onehot
from tasks import cancellation
from tasks.predict import encode
from tasks.predict.encode import archs_digest, cache_file_for, encode_archs_cached
from tests.factories import some_archs

ARCHS = some_archs(40, seed=2)


@pytest.mark.parametrize("name,build", [("notebook", encode_notebook), ("onehot", encode_onehot)])
def test_miss_then_hit_returns_identical_features(tmp_path, caplog, name, build):
    caplog.set_level(logging.INFO, logger="tasks.predict.encode")
    first = encode_archs_cached(ARCHS, name, tmp_path)
    second = encode_archs_cached(ARCHS, name, tmp_path)
    assert (first.cache_hit, second.cache_hit) == (False, True)
    assert np.array_equal(first.features, build(ARCHS)) and np.array_equal(
        second.features, first.features
    )
    assert "cache hit" in caplog.text and first.cache_path.name.startswith(f"{name}-v1-")


def test_key_depends_on_content_encoding_and_order(tmp_path):
    assert cache_file_for(tmp_path, "notebook", ARCHS) != cache_file_for(tmp_path, "onehot", ARCHS)
    assert cache_file_for(tmp_path, "notebook", ARCHS) != cache_file_for(
        tmp_path, "notebook", ARCHS[::-1]
    )
    assert archs_digest(ARCHS) == archs_digest(list(ARCHS))


def _corrupt_truncate(path):
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _corrupt_flip_payload(path):
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first data pages, caught by the page checksums
    path.write_bytes(bytes(data))


def _corrupt_other_archs(path):
    table = pq.read_table(path)
    archs = table.column("arch").to_pylist()
    archs[0], archs[1] = archs[1], archs[0]
    import pyarrow as pa

    swapped = table.set_column(0, "arch", pa.array(archs)).replace_schema_metadata(
        table.schema.metadata
    )
    pq.write_table(swapped, path)


def _corrupt_empty(path):
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "corrupt", [_corrupt_truncate, _corrupt_flip_payload, _corrupt_other_archs, _corrupt_empty]
)
def test_a_corrupt_cache_file_is_rebuilt_not_trusted(tmp_path, caplog, corrupt):
    first = encode_archs_cached(ARCHS, "notebook", tmp_path)
    corrupt(first.cache_path)
    again = encode_archs_cached(ARCHS, "notebook", tmp_path)
    assert again.cache_hit is False
    assert np.array_equal(again.features, encode_notebook(ARCHS))
    assert "rebuilding" in caplog.text
    assert encode_archs_cached(ARCHS, "notebook", tmp_path).cache_hit is True
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        first.cache_path.name
    ]  # no temp files left


def test_a_cache_file_of_another_layout_version_is_rebuilt(tmp_path, monkeypatch, caplog):
    import tasks.predict.encode

    monkeypatch.setattr(
        tasks.predict.encode, "_CACHE_FORMAT", tasks.predict.encode._CACHE_FORMAT - 1
    )
    assert not encode_archs_cached(ARCHS, "onehot", tmp_path).cache_hit  # an older layout
    monkeypatch.undo()
    caplog.set_level(logging.WARNING, logger="tasks.predict.encode")
    again = encode_archs_cached(ARCHS, "onehot", tmp_path)
    assert not again.cache_hit and "does not match its key" in caplog.text
    assert encode_archs_cached(ARCHS, "onehot", tmp_path).cache_hit


def test_blocks_and_a_string_series_give_the_same_features_and_cache(tmp_path, monkeypatch):
    import pandas as pd

    from tasks.files.streaming import string_series

    monkeypatch.setattr(encode, "_ROWS_PER_BLOCK", 7)  # 40 archs: six row groups
    first = encode_archs_cached(ARCHS, "onehot", tmp_path)
    assert first.features.dtype == np.uint8 and not first.features.flags.writeable
    assert np.array_equal(first.features, encode_onehot(ARCHS))
    assert pq.ParquetFile(first.cache_path).num_row_groups == 6
    series = string_series(ARCHS)
    assert isinstance(series.dtype, pd.StringDtype)
    again = encode_archs_cached(series, "onehot", tmp_path)  # as the pipeline passes them
    assert again.cache_hit and again.cache_path == first.cache_path
    assert np.array_equal(again.features, first.features)
    assert np.array_equal(encode.encode_archs(series, "onehot"), first.features)


def test_a_stop_requested_mid_encoding_leaves_no_cache_file(tmp_path, monkeypatch, stop_request):
    monkeypatch.setattr(encode, "_ROWS_PER_BLOCK", 8)  # 40 archs: 5 blocks
    compacted, compact = [], encode.compact_features

    def compact_then_stop(features):
        compacted.append(len(features))
        stop_request()
        return compact(features)

    monkeypatch.setattr(encode, "compact_features", compact_then_stop)
    with pytest.raises(cancellation.Cancelled):
        encode_archs_cached(ARCHS, "onehot", tmp_path)
    assert compacted == [8]  # the first block only
    assert list(tmp_path.iterdir()) == []  # neither the cache file nor its temporary file
