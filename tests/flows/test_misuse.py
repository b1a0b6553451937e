"""Misuse gets one readable line and a documented exit code, never a traceback: JSON depth
bombs, an unknown task runner, a damaged Prefect database."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flows.cli import main
from tests.factories import some_archs, train_records, unlabelled_records, write_json


@pytest.fixture
def files(tmp_path):
    train = write_json(tmp_path / "train.json", train_records(some_archs(20)))
    test = write_json(tmp_path / "test.json", unlabelled_records(some_archs(30, seed=1)))
    return train, test


def _bomb(path: Path, depth: int) -> Path:
    path.write_text('{"a": {"arch": ' + "[" * depth + "]" * depth + "}}")
    return path


@pytest.mark.parametrize(
    ("depth", "message"),
    [
        (100_000, "JSON nested too deeply to read (a competition file has two levels)"),
        (900, "entry 'a', field 'arch': a value nested more than 8 levels deep"),
    ],
)
def test_a_json_depth_bomb_is_one_line_and_exit_2(tmp_path, files, capsys, depth, message):
    bomb = _bomb(tmp_path / "bomb.json", depth)
    assert main(["validate", str(bomb), "--kind", "test"]) == 2
    err = capsys.readouterr().err
    assert f"ufo: {bomb}: {message}" in err and "Traceback" not in err and "internal" not in err
    train, _ = files
    code = main(["run", "--train", str(train), "--test", str(bomb), "--out", str(tmp_path / "o")])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_unknown_runner_is_one_line_and_exit_2(files, tmp_path, capsys, prefect_harness):
    train, test = files
    args = ["run", "--train", str(train), "--test", str(test), "--out", str(tmp_path / "o")]
    assert main([*args, "--runner", "bogus"]) == 2
    err = capsys.readouterr().err
    assert "ufo: task runner 'bogus' is not 'threads', 'dask' or a tcp://host:port" in err
    assert "Traceback" not in err and not (tmp_path / "o").exists()


def test_a_damaged_prefect_database_is_one_line_and_exit_2(files, tmp_path):
    train, test = files
    home = tmp_path / "home"
    home.mkdir()
    (home / "prefect.db").write_bytes(os.urandom(100_000))  # not SQLite any more
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env.update(PREFECT_HOME=str(home), UFO_DATA_DIR=str(tmp_path / "data"))
    done = subprocess.run(
        [Path(sys.executable).parent / "ufo", "run", "--train", train, "--test", test]
        + ["--out", tmp_path / "o.json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"ufo: the Prefect database {home / 'prefect.db'} is damaged (file is not a database); "
        "move it away (Prefect then starts a new, empty one) or set PREFECT_HOME to another folder"
    ]
