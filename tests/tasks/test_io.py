import json

import pytest

from schemas.search_space import RANK_FIELDS
from tasks.io import (
    InputFileError,
    atomic_target,
    dump_competition_json,
    frame_to_records,
    parse_competition_json,
    read_competition_file,
    write_competition_file,
)
from tests.factories import ARCH_J, ARCH_K, ARCH_L, train_records, write_json


def test_read_keeps_keys_order_and_values(tmp_path):
    records = {"zeta": train_records([ARCH_J])["arch1"], "alpha": train_records([ARCH_K])["arch1"]}
    frame, digest = read_competition_file(write_json(tmp_path / "t.json", records))
    assert list(frame["key"]) == ["zeta", "alpha"]
    assert list(frame["arch"]) == [ARCH_J, ARCH_K]
    assert len(digest) == 64
    assert frame_to_records(frame) == records


@pytest.mark.parametrize(
    "text,fragment",
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "top level must be a JSON object"),
        ("{}", "holds no archs"),
        ('{"a": 3}', "not JSON objects"),
        ('{"a": {"arch": "x"}, "a": {"arch": "y"}}', "duplicate JSON key 'a'"),
        ('{"a": {"arch": "x", "arch": "y"}}', "duplicate JSON key 'arch'"),
        ('{"a": {"arch": "x", "cplfw_rank": NaN}}', "NaN"),
        ('{"a": {"arch": "x", "cplfw_rank": Infinity}}', "Infinity"),
        ('{"a": {"arch": "x", "cplfw_rank": true}}', "booleans"),
    ],
)
def test_problems_a_dataframe_cannot_show_are_caught_when_reading(text, fragment):
    with pytest.raises(InputFileError, match=fragment):
        parse_competition_json(text, source="f.json")


def test_missing_file_and_non_utf8_are_input_errors(tmp_path):
    with pytest.raises(InputFileError, match="no such file"):
        read_competition_file(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(InputFileError, match="not UTF-8"):
        read_competition_file(bad)


def test_written_file_is_deterministic_and_round_trips(tmp_path):
    records = train_records([ARCH_J, ARCH_K, ARCH_L], seed=3)
    a = write_competition_file(tmp_path / "a.json", records)
    b = write_competition_file(tmp_path / "b.json", records)
    assert a == b
    assert (tmp_path / "a.json").read_bytes() == dump_competition_json(records)
    loaded = json.loads((tmp_path / "a.json").read_text())
    assert loaded == records and list(loaded) == ["arch1", "arch2", "arch3"]


def test_frame_to_records_writes_fields_in_the_competition_order(tmp_path):
    frame, _ = read_competition_file(
        write_json(tmp_path / "t.json", train_records([ARCH_J, ARCH_K]))
    )
    entry = frame_to_records(frame)["arch1"]
    assert list(entry) == [*RANK_FIELDS, "arch"]
    assert all(type(entry[f]) is int for f in RANK_FIELDS)


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    umask = os.umask(0o022)
    try:
        write_competition_file(tmp_path / "a.json", train_records([ARCH_J]))
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o644


def test_atomic_target_leaves_the_old_file_on_error(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_target(target) as tmp:
            tmp.write_text("half-writ")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
