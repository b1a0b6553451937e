"""Single-file outputs (latency tables, measurements): checked before any work, never an
input of the same command nor a device, replaced only when ufo wrote them (or --force),
and written all or nothing when a command writes two."""

from __future__ import annotations

import hashlib
import os
import stat

import pytest

from tasks.errors import OutputError, ParameterError
from tasks.files import atomic
from tasks.safety import ledger, outputs


def _check(outputs_, inputs=None, replace_any=False):
    outputs.check_file_outputs(outputs_, inputs=inputs, replace_any=replace_any)


def test_an_output_that_is_an_input_is_refused(tmp_path):
    measurements = tmp_path / "m.json"
    measurements.write_text("{}")
    with pytest.raises(ParameterError, match=r"--out .*m\.json is the --measurements file"):
        _check({"--out": measurements}, {"--measurements": measurements}, replace_any=True)
    # Under another name: a path through `..`, a symlink, a hard link.
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.json").symlink_to(measurements)
    os.link(measurements, tmp_path / "hard.json")
    for other in (tmp_path / "sub" / ".." / "m.json", tmp_path / "hard.json"):
        with pytest.raises(ParameterError, match="is the --measurements file"):
            _check({"--out": other}, {"--measurements": measurements}, replace_any=True)
    with pytest.raises(ParameterError, match="is the --measurements file"):
        _check({"--out": measurements}, {"--measurements": tmp_path / "link.json"})
    _check({"--out": tmp_path / "t.json"}, {"--measurements": measurements})


def test_two_outputs_of_one_command_must_be_two_files(tmp_path):
    table = tmp_path / "t.json"
    with pytest.raises(ParameterError, match="--out and --measurements-out are one file"):
        _check({"--out": table, "--measurements-out": tmp_path / "." / "t.json"})
    _check({"--out": table, "--measurements-out": tmp_path / "m.json"})
    _check({"--out": table, "--measurements-out": None})  # not asked for


def test_devices_fifos_folders_and_symlinks_are_never_replaced(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    folder = tmp_path / "folder"
    folder.mkdir()
    link = tmp_path / "link.json"
    link.symlink_to(tmp_path / "target.json")
    cases = {fifo: "a FIFO", folder: "a folder", link: "a symbolic link"}
    if os.geteuid() == 0:  # a character device like /dev/full (major 1, minor 7)
        device = tmp_path / "full"
        os.mknod(device, stat.S_IFCHR | 0o666, os.makedev(1, 7))
        cases[device] = "a character device"
    for path, kind in cases.items():
        for replace_any in (False, True):
            with pytest.raises(ParameterError, match=f"--out {path} is {kind}, not a regular"):
                _check({"--out": path}, replace_any=replace_any)
    # And the writer itself never swaps one for a file, whatever was checked before.
    for path, kind in cases.items():
        if kind != "a symbolic link":
            with pytest.raises(OutputError, match=f"it is {kind}, not a file; nothing was"):
                atomic.write_bytes_atomic(path, b"table")
            assert atomic.special_file_kind(path) == kind


def test_only_files_ufo_wrote_are_replaced_without_force(tmp_path):
    mine = tmp_path / "t.json"
    mine.write_text("my own table")
    with pytest.raises(
        ParameterError, match="t.json exists and was not written by ufo; give --force"
    ):
        _check({"--out": mine})
    _check({"--out": mine}, replace_any=True)
    with pytest.raises(OutputError, match="was not written by ufo"):
        outputs.write_outputs({mine: b"new"}, replace_any=False)
    assert mine.read_text() == "my own table"
    outputs.write_outputs({mine: b"new"}, replace_any=True)
    assert mine.read_bytes() == b"new" and ledger.written_by_project(mine)
    _check({"--out": mine})  # ufo wrote it now: replaced without --force
    outputs.write_outputs({mine: b"newer"}, replace_any=False)
    assert mine.read_bytes() == b"newer"


def test_an_unwritable_place_is_refused_before_any_work(tmp_path):
    regular = tmp_path / "a-file"
    regular.write_text("x")
    with pytest.raises(ParameterError, match=f"--out {regular}/t.json: {regular} is not a folder"):
        _check({"--out": regular / "t.json"})


def test_a_failure_while_staging_either_file_replaces_neither(tmp_path):
    measurements = tmp_path / "m.json"
    outputs.write_outputs({measurements: b"old measurements"}, replace_any=False)
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    table = blocked / "sub" / "t.json"  # its folder cannot be made: a file is in the way
    with pytest.raises(OutputError) as raised:
        outputs.write_outputs({measurements: b"new", table: b"new"}, replace_any=False)
    assert str(raised.value).endswith("nothing was replaced")
    assert measurements.read_bytes() == b"old measurements"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [ledger.LEDGER_NAME, "a-file", "m.json"]
    )  # no temporary file left


def test_one_file_given_twice_to_the_writer_is_refused(tmp_path):
    (tmp_path / "alias").symlink_to(tmp_path)
    with pytest.raises(OutputError, match="are one file"):
        outputs.write_outputs(
            {tmp_path / "t.json": b"table", tmp_path / "alias" / "t.json": b"measurements"},
            replace_any=True,
        )
    assert [p.name for p in tmp_path.iterdir()] == ["alias"]


def test_a_file_ufo_wrote_stays_allowed_when_two_writers_are_killed_before_replacing(tmp_path):
    table = tmp_path / "t.json"
    outputs.write_outputs({table: b"first"}, replace_any=False)
    # Two writers recorded their digests, and were killed before their rename.
    for payload in (b"second", b"third"):
        ledger.record_written(table, hashlib.sha256(payload).hexdigest())
    assert table.read_bytes() == b"first" and ledger.written_by_project(table)
    _check({"--out": table})
