"""Deployment runs read and write only inside the allowed roots, and replace only outputs
ufo wrote; the checks run in the first task, before any input file is touched."""

import os
from pathlib import Path

import pytest

from tasks.errors import ParameterError
from tasks.files import atomic
from tasks.safety import ledger
from tasks.safety.confinement import CONFINED_ENV, ROOTS_ENV, allowed_roots, outside_roots
from tasks.steps.pipeline import check_parameters
from tasks.steps.search import check_search_parameters
from tests.factories import ARCH_J, ARCH_K, train_records, unlabelled_records, write_json


@pytest.fixture
def root(tmp_path, monkeypatch):
    """A deployment run (as under the serve process) whose one allowed root is `root`."""
    root = tmp_path / "root"
    (root / "in").mkdir(parents=True)
    monkeypatch.setenv(ROOTS_ENV, str(root))
    monkeypatch.setenv(CONFINED_ENV, "1")
    write_json(root / "in" / "train.json", train_records([ARCH_J, ARCH_K] * 3))
    write_json(root / "in" / "test.json", unlabelled_records([ARCH_J, ARCH_K]))
    return root


def _check(root, **overrides):
    options = dict(
        train=str(root / "in" / "train.json"),
        test=str(root / "in" / "test.json"),
        out=str(root / "sub" / "out.json"),
        predictor="ridge",
        holdout="none",
    )
    return check_parameters.fn(**{**options, **overrides})


def test_the_default_root_is_the_data_folder(monkeypatch):
    from tasks import paths

    monkeypatch.delenv(ROOTS_ENV, raising=False)
    assert allowed_roots() == [paths.data_dir().resolve()]
    monkeypatch.setenv(ROOTS_ENV, os.pathsep.join(["/a", "/b/c"]))
    assert allowed_roots() == [Path("/a"), Path("/b/c")]


def test_paths_inside_the_root_pass(root):
    run = _check(root)
    assert run.out == root / "sub" / "out.json"


@pytest.mark.parametrize("field", ["train", "test", "out"])
def test_a_path_outside_the_root_fails_before_it_is_read(root, tmp_path, field):
    outside = tmp_path / "elsewhere" / "secret.json"
    with pytest.raises(ParameterError) as raised:
        _check(root, **{field: str(outside)})
    message = str(raised.value)
    label = "output" if field == "out" else field
    assert f"{label} {outside} is outside the folders deployment runs may use" in message
    assert f"allowed: {root}" in message and ROOTS_ENV in message
    assert "does not exist" not in message  # refused before looking at the file


def test_dot_dot_and_symlinks_cannot_leave_the_root(root, tmp_path):
    escape = f"{root}/in/../../victim.json"
    with pytest.raises(ParameterError, match="is outside"):
        _check(root, out=escape)
    (root / "link").symlink_to(tmp_path)  # inside by name, outside once resolved
    with pytest.raises(ParameterError, match="is outside"):
        _check(root, out=str(root / "link" / "victim.json"))
    with pytest.raises(ParameterError, match="is outside"):
        _check(root, train=str(root / "link" / "root" / ".." / "x.json"))


def test_a_deployment_replaces_only_an_output_ufo_wrote(root):
    out = root / "in" / "notes.txt"
    out.write_text("mine")
    with pytest.raises(ParameterError) as raised:
        _check(root, out=str(out))
    assert "was not written by ufo" in str(raised.value)
    assert out.read_text() == "mine"
    # The training file is inside the root too, and still cannot be overwritten.
    with pytest.raises(ParameterError, match="was not written by ufo"):
        _check(root, out=str(root / "in" / "train.json"), train=str(root / "in" / "test.json"))
    # An output ufo wrote may be replaced; the same file changed since may not.
    mine = root / "sub" / "out.json"
    mine.parent.mkdir()
    mine.write_bytes(b"{}")
    ledger.record_written(mine, atomic.sha256_file(mine))
    assert _check(root).out == mine
    mine.write_bytes(b"{} ")
    with pytest.raises(ParameterError, match="was not written by ufo"):
        _check(root)


def test_outside_a_deployment_paths_are_free(tmp_path, monkeypatch):
    monkeypatch.setenv(ROOTS_ENV, str(tmp_path / "nowhere"))
    monkeypatch.delenv(CONFINED_ENV, raising=False)
    train = write_json(tmp_path / "train.json", train_records([ARCH_J, ARCH_K] * 3))
    test = write_json(tmp_path / "test.json", unlabelled_records([ARCH_J, ARCH_K]))
    existing = tmp_path / "any.json"
    existing.write_text("x")
    run = check_parameters.fn(str(train), str(test), str(existing), "ridge", "none")
    assert run.out == existing  # the CLI decides about replacing (it knows --force)


def test_search_deployment_paths_are_confined(root, tmp_path):
    options = dict(
        train=str(root / "in" / "train.json"),
        task="all",
        budget="params=60M",
        latency_table=None,
        top=3,
        predictor="ridge",
        out=str(root / "search"),
        image_size=256,
        max_evals=1000,
    )
    assert check_search_parameters.fn(**options).out == root / "search"
    for field in ("train", "latency_table", "out"):
        with pytest.raises(ParameterError, match="is outside"):
            check_search_parameters.fn(**{**options, field: str(tmp_path / "x")})
    foreign = root / "search" / "picks.json"
    foreign.parent.mkdir()
    foreign.write_text("not a report")
    with pytest.raises(ParameterError, match="report file .*picks.json exists and was not written"):
        check_search_parameters.fn(**options)


def test_outside_roots_names_each_path(tmp_path):
    problems = outside_roots({"a": tmp_path / "x", "b": None, "c": "/etc/passwd"}, [tmp_path])
    assert problems[0].startswith("c /etc/passwd is outside") and len(problems) == 2
