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
        ('{"a": 3}', "not a competition file"),  # its keys and values are not echoed
        ('{"a": 3, "b": {"arch": "x"}}', "not JSON objects"),
        ('{"a": {"arch": "x"}, "a": {"arch": "y"}}', "entry 'a' appears more than once"),
    ],
)
def test_problems_a_dataframe_cannot_show_are_caught_when_reading(text, fragment):
    with pytest.raises(InputFileError, match=fragment) as caught:
        parse_competition_json(text, source="f.json")
    assert str(caught.value).startswith("f.json: ")


# Defects inside one entry: the message names the file, the entry, the field, the value
# found and what was expected.
ENTRY_DEFECTS = [
    ('"cplfw_rank": NaN', "cplfw_rank", "NaN", "expected an integer rank"),
    ('"sop_rank": Infinity', "sop_rank", "Infinity", "expected an integer rank"),
    ('"veri_rank": -Infinity', "veri_rank", "-Infinity", "expected an integer rank"),
    ('"veri_rank": 1e999', "veri_rank", "inf", "expected an integer rank"),
    ('"msmt17_rank": true', "msmt17_rank", "true", "expected an integer rank"),
    ('"arch": false', "arch", "false", "expected a 37-character arch string"),
    ('"extra": [1, NaN]', "extra", "NaN", "expected a finite number"),
    ('"arch": "x", "arch": "y"', "arch", "appears more than once", ""),
]


@pytest.mark.parametrize(
    "member,field,found,expected", ENTRY_DEFECTS, ids=[d[0] for d in ENTRY_DEFECTS]
)
def test_a_defect_inside_an_entry_names_file_entry_field_and_expectation(
    member, field, found, expected
):
    text = f'{{"arch1": {{"arch": "x", "cplfw_rank": 0}}, "arch37": {{"market1501_rank": 0, {member}}}}}'
    with pytest.raises(InputFileError) as caught:
        parse_competition_json(text, source="data/raw/f.json")
    message = str(caught.value)
    assert message.startswith("data/raw/f.json: entry 'arch37', ") or message.startswith(
        "data/raw/f.json: duplicate JSON key 'arch': entry 'arch37'"
    ), message
    assert f"field {field!r}" in message and found in message and expected in message
    assert "arch1" not in message


def test_several_bad_values_are_all_listed_with_their_entries():
    text = '{"a": {"cplfw_rank": NaN}, "b": {"sop_rank": true}, "c": {"veri_rank": 3}}'
    with pytest.raises(InputFileError) as caught:
        parse_competition_json(text, source="f.json")
    lines = str(caught.value).splitlines()
    assert lines[0] == "f.json: 2 values are not allowed:"
    assert lines[1:] == [
        "  entry 'a', field 'cplfw_rank': NaN is not allowed, expected an integer rank",
        "  entry 'b', field 'sop_rank': true is not allowed, expected an integer rank",
    ]


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
