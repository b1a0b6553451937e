"""Run parameters: the demo files a run falls back to."""

from __future__ import annotations


def test_the_demo_files_are_written_when_missing_and_match_make_demo(tmp_path, monkeypatch):
    """A demo deployment triggered right after `make serve` (no `ufo make-demo`) works."""
    from flows.cli import main
    from tasks import paths
    from tasks.checks.parameters import check_run_parameters
    from tasks.predict.evaluate import DEFAULT_HOLDOUT

    monkeypatch.setenv("UFO_DATA_DIR", str(tmp_path / "data"))
    assert not paths.demo_train_path().exists()
    run = check_run_parameters(None, None, None, "ridge", DEFAULT_HOLDOUT)
    assert run.train == paths.demo_train_path() and run.train.is_file() and run.test.is_file()
    made = tmp_path / "made"
    args = ["make-demo", "--out", str(made / "t.json"), "--test-out", str(made / "s.json")]
    assert main(args) == 0
    assert (made / "t.json").read_bytes() == run.train.read_bytes()
    assert (made / "s.json").read_bytes() == run.test.read_bytes()
