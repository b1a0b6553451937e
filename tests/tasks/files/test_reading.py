import hashlib
import json

import pytest

from schemas.search_space import RANK_FIELDS
from tasks import cancellation
from tasks.errors import InputFileError
from tasks.files import reading, streaming, writing
from tasks.files.atomic import atomic_target
from tasks.files.reading import parse_competition_json, read_competition_file
from tasks.files.writing import dump_competition_json, frame_to_records, write_competition_file
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


# ---- streaming: large files are read and written block by block -----------------------

import pandas as pd  # noqa: E402

from tests.factories import some_archs  # noqa: E402


def _strict_frame(path):
    """What the whole-file strict parser makes of a file (object columns)."""
    return reading.records_to_frame(
        parse_competition_json(path.read_text(encoding="utf-8"), str(path))
    )


def _as_records(frame):
    return frame_to_records(frame)


TRICKY_KEYS = ["plain", 'quote"d', "back\\slash", "tab\tnew\nline", "é ü 中文", "\u2028", '}, "']


def _layouts(records):
    """The same records written the way this project writes them and in other valid ways."""
    yield "project", dump_competition_json(records).decode()
    yield "indented", json.dumps(records, indent=2)
    yield "compact", json.dumps(records, separators=(",", ":"))
    reordered = {
        k: {"arch": v["arch"], **{f: v[f] for f in reversed(RANK_FIELDS)}}
        for k, v in records.items()
    }
    yield "other field order", json.dumps(reordered)
    yield "ascii escapes", json.dumps(records, ensure_ascii=True)


@pytest.mark.parametrize("block_bytes", [64, 1000, 1 << 20])
def test_streamed_read_equals_the_strict_parser_in_every_layout(tmp_path, monkeypatch, block_bytes):
    # Small blocks cut entries, keys and multi-byte characters at every possible place.
    monkeypatch.setattr(streaming, "_READ_BLOCK", block_bytes)
    archs = some_archs(len(TRICKY_KEYS) + 40, seed=5)
    records = train_records(archs, seed=9)
    keys = TRICKY_KEYS + [f"arch{i}" for i in range(40)]
    records = {key: entry for key, entry in zip(keys, records.values(), strict=True)}
    for name, text in _layouts(records):
        path = tmp_path / f"{name}.json"
        path.write_text(text, encoding="utf-8")
        frame, digest = read_competition_file(path)
        assert isinstance(frame["arch"].dtype, pd.StringDtype), name  # streamed, not strict
        assert all(frame[f].dtype == "int64" for f in RANK_FIELDS), name
        assert _as_records(frame) == records, name
        assert list(frame["key"]) == keys, name
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()


ODD_FILES = {
    "duplicate key": '{"a": {ENTRY}, "a": {ENTRY}}',
    "extra field": '{"a": {ENTRY, "extra": 1}}',
    "missing field": '{"a": {"arch": "j"}}',
    "rank as text": '{"a": {ENTRY}, "b": {"cplfw_rank": "0", REST}}',
    "boolean rank": '{"a": {"cplfw_rank": true, REST}}',
    "float rank": '{"a": {"cplfw_rank": 1.0, REST}}',
    "huge rank": '{"a": {"cplfw_rank": 99999999999999999999999, REST}}',
    "NaN": '{"a": {"cplfw_rank": NaN, REST}}',
    "trailing garbage": '{"a": {ENTRY}} x',
    "trailing comma": '{"a": {ENTRY},}',
    "entry not an object": '{"a": {ENTRY}, "b": 3}',
    "empty": "{}",
    "nested entry": '{"a": {"cplfw_rank": {ENTRY}, REST}}',
    "junk between entries": '{"a": {ENTRY}, 7, "b": {ENTRY}}',
    "missing comma": '{"a": {ENTRY} "b": {ENTRY}}',
    "bad escape in key": '{"a\\q": {ENTRY}}',
    "lone surrogate in key": '{"a\\ud800": {ENTRY}}',
}


@pytest.mark.parametrize("name", list(ODD_FILES))
def test_anything_unusual_is_left_to_the_strict_parser(tmp_path, name):
    """Errors keep the strict parser's messages; odd but readable files keep their object
    columns, so the suites see every value exactly as written."""
    rest = ", ".join(f'"{f}": 0' for f in RANK_FIELDS[1:]) + f', "arch": "{ARCH_J}"'
    entry = f'"cplfw_rank": 0, {rest}'
    text = ODD_FILES[name].replace("ENTRY", entry).replace("REST", rest)
    path = tmp_path / "odd.json"
    path.write_text(text)
    try:
        expected = _strict_frame(path)
    except InputFileError as exc:
        with pytest.raises(InputFileError) as caught:
            read_competition_file(path)
        assert str(caught.value) == str(exc)
        return
    frame, _ = read_competition_file(path)
    assert frame.dtypes.to_dict() == expected.dtypes.to_dict()
    pd.testing.assert_frame_equal(frame, expected)


@pytest.mark.parametrize("rows_per_write", [1, 3, 1 << 15])
def test_streamed_write_gives_json_dumps_bytes(tmp_path, monkeypatch, rows_per_write):
    monkeypatch.setattr(writing, "_ROWS_PER_WRITE", rows_per_write)
    archs = some_archs(len(TRICKY_KEYS), seed=2)
    records = dict(zip(TRICKY_KEYS, train_records(archs, seed=1).values(), strict=True))
    frame = reading.records_to_frame(records)
    expected = dump_competition_json(frame_to_records(frame))  # the fields in canonical order
    assert b"".join(writing.competition_json_blocks(frame)) == expected
    digest = writing.write_competition_frame(tmp_path / "out.json", frame)
    assert (tmp_path / "out.json").read_bytes() == expected
    assert digest == hashlib.sha256(expected).hexdigest()
    streamed, _ = read_competition_file(tmp_path / "out.json")  # and it reads back the same
    assert _as_records(streamed) == frame_to_records(frame)


def test_the_project_layout_is_read_without_the_per_entry_json_hook(tmp_path, monkeypatch):
    def no_hook(pairs):
        raise AssertionError("the project's own layout should not need the JSON hook")

    monkeypatch.setattr(streaming, "_block_hook", no_hook)
    records = train_records(some_archs(30, seed=3), seed=4)
    frame = reading.records_to_frame(records)
    writing.write_competition_frame(tmp_path / "f.json", frame)
    streamed, _ = read_competition_file(tmp_path / "f.json")
    assert frame_to_records(streamed) == frame_to_records(frame)


def test_a_stop_requested_mid_read_ends_the_streamed_read(tmp_path, monkeypatch, stop_request):
    """Between blocks, and not by falling back to the strict parser (a whole-file read)."""
    monkeypatch.setattr(streaming, "_READ_BLOCK", 256)
    path = tmp_path / "t.json"
    write_competition_file(path, train_records(some_archs(40, seed=3)))
    parsed, parse = [], streaming._parse_block

    def parse_then_stop(body):
        parsed.append(body)
        stop_request()
        return parse(body)

    monkeypatch.setattr(streaming, "_parse_block", parse_then_stop)
    monkeypatch.setattr(reading, "parse_competition_json", None)  # the strict parser: unused
    with pytest.raises(cancellation.Cancelled):
        read_competition_file(path)
    assert len(parsed) == 1 and path.stat().st_size > 10 * 256  # one block of many


def _stop_after_first_block(monkeypatch, stop_request) -> list[bytes]:
    """The writer's blocks, asking for a stop once the first was handed out."""
    blocks, original = [], writing.competition_json_blocks

    def first_then_stop(frame):
        for block in original(frame):
            blocks.append(block)
            yield block
            stop_request()

    monkeypatch.setattr(writing, "competition_json_blocks", first_then_stop)
    return blocks


def test_a_stop_requested_mid_write_leaves_the_previous_file(tmp_path, monkeypatch, stop_request):
    monkeypatch.setattr(writing, "_ROWS_PER_WRITE", 3)
    frame = reading.records_to_frame(train_records(some_archs(30, seed=3)))
    out = tmp_path / "out.json"
    out.write_bytes(b"previous")
    blocks = _stop_after_first_block(monkeypatch, stop_request)
    with pytest.raises(cancellation.Cancelled):
        writing.write_competition_frame(out, frame)
    assert len(blocks) == 1  # of 10 and the closing brace
    assert out.read_bytes() == b"previous" and list(tmp_path.iterdir()) == [out]  # no temp
