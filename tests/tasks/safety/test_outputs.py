"""Output problems surface before the work, as one line; a failed or killed write leaves
no temporary file for good. Read-only and full disks are real tmpfs mounts."""

import os
import signal
import subprocess
import sys
import time

import pytest

from flows.cli import main
from tasks import errors
from tasks.files import atomic
from tasks.safety import writable
from tests.factories import (
    ARCH_J,
    ARCH_K,
    ARCH_L,
    some_archs,
    train_records,
    unlabelled_records,
    write_json,
)


def _mount(folder, options):
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    return folder


@pytest.fixture
def read_only_disk(tmp_path):
    yield _mount(tmp_path / "ro", "ro,size=64k")
    subprocess.run(["umount", "-l", str(tmp_path / "ro")], check=True)


@pytest.fixture
def tiny_disk(tmp_path):
    yield _mount(tmp_path / "tiny", "size=16k")
    subprocess.run(["umount", "-l", str(tmp_path / "tiny")], check=True)


@pytest.fixture
def inputs(tmp_path):
    train = write_json(tmp_path / "train.json", train_records(some_archs(12)))
    # A test file big enough that its submission cannot fit on the tiny disk.
    archs = [ARCH_J, ARCH_K, ARCH_L] * 200
    test = write_json(tmp_path / "test.json", unlabelled_records(archs))
    return train, test


def _run(train, test, out, capsys):
    started = time.monotonic()
    code = main(["run", "--train", str(train), "--test", str(test), "--out", str(out)])
    return code, capsys.readouterr().err, time.monotonic() - started


def test_a_read_only_output_folder_is_refused_before_the_work(inputs, read_only_disk, capsys):
    out = read_only_disk / "sub" / "submission.json"
    code, err, seconds = _run(*inputs, out, capsys)
    assert code == 2
    assert err.strip() == (
        f"ufo: output {out}: cannot write in {read_only_disk} (Read-only file system)"
    )
    assert not (read_only_disk / "sub").exists()


def test_a_full_output_disk_is_refused_before_the_work(inputs, tiny_disk, capsys):
    out = tiny_disk / "submission.json"
    code, err, _ = _run(*inputs, out, capsys)
    assert code == 2
    assert f"ufo: output {out}: not enough free space in {tiny_disk}" in err
    assert "Traceback" not in err and not out.exists()


def test_a_write_that_fails_removes_its_temp_and_says_why(tiny_disk, inputs, capsys):
    target = tiny_disk / "big.json"
    with pytest.raises(errors.OutputError) as raised:
        atomic.write_bytes_atomic(target, b"x" * 100_000)
    assert str(raised.value) == (
        f"could not write {target}: No space left on device; nothing was replaced"
    )
    assert list(tiny_disk.iterdir()) == []
    # The same through the command line: one line, exit 2.
    train, _ = inputs
    code = main(["make-test", "--train", str(train), "--n", "2000", "--out", str(target)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip().endswith("No space left on device; nothing was replaced")
    assert "Traceback" not in err and list(tiny_disk.iterdir()) == []


def test_other_os_errors_are_not_disguised_as_user_errors(tmp_path):
    with pytest.raises(ConnectionResetError):  # a bug or anything unexpected keeps its type
        with atomic.user_fixable_write_errors(tmp_path / "x"):
            raise ConnectionResetError(104, "reset")


WRITER = """
import sys, time
from pathlib import Path
from tasks.files.atomic import atomic_target
with atomic_target(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(b"half")
    print(tmp, flush=True)
    time.sleep(60)
"""


def test_a_killed_write_leaves_a_temp_that_the_next_run_removes(tmp_path):
    out = tmp_path / "sub.json"
    out.write_text("previous")
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out)], stdout=subprocess.PIPE, text=True
    )
    temp = tmp_path / writer.stdout.readline().strip()
    assert temp.exists() and temp.name.startswith(f".sub.json{atomic.TEMP_MARK}{writer.pid}-")
    # While the writer lives, its temp is not stale.
    assert writable.output_problem("output", out, 0) is None and temp.exists()
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert temp.exists()  # kill -9: nothing could clean up
    assert writable.output_problem("output", out, 0) is None  # the next run's check
    assert not temp.exists() and out.read_text() == "previous"
    assert sorted(os.listdir(tmp_path)) == ["sub.json"]
