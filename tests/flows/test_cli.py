"""The `ufo` command line, called in-process."""

import hashlib
import json
from pathlib import Path

import pytest

from flows.cli import main
from schemas.search_space import TASKS
from schemas.suites import build_expectations
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train, make_test_standin


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cli")
    train = make_demo_train(100, seed=5)
    write_competition_file(folder / "train.json", frame_to_records(train))
    write_competition_file(
        folder / "test.json", frame_to_records(make_test_standin(list(train["arch"]), 150, seed=6))
    )
    return folder


def run_args(train, test, out, *extra) -> list[str]:
    return ["run", "--train", str(train), "--test", str(test), "--out", str(out), *extra]


def test_predictors_lists_every_registered_name_with_a_description(capsys):
    from tasks.predict.predictors import DEFAULT_PREDICTOR, PREDICTORS

    assert main(["predictors"]) == 0
    out = capsys.readouterr().out
    for name in PREDICTORS:
        assert f"{name}" in out
    assert f"{DEFAULT_PREDICTOR} (default)" in out


def test_evaluate_json_reports_every_task(files, capsys):
    assert (
        main(
            [
                "evaluate",
                "--train",
                str(files / "train.json"),
                "--predictor",
                "gpnas",
                "--holdout",
                "kfold:3",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["predictor"] == "gpnas" and result["holdout"] == "kfold:3"
    assert set(result["tau"]) == set(TASKS)
    assert result["average"] == pytest.approx(sum(result["tau"].values()) / 8)


def test_validate_exit_codes(files, capsys, tmp_path):
    assert main(["validate", str(files / "train.json"), "--kind", "train"]) == 0
    rules = len(build_expectations("train", 100))
    assert f"{rules}/{rules} rules passed" in capsys.readouterr().out
    assert (
        main(["validate", str(files / "test.json"), "--kind", "train"]) == 1
    )  # ranks all 0: not permutations
    assert "no rank repeats" in capsys.readouterr().out
    broken = tmp_path / "broken.json"
    broken.write_text('{"a": {"arch": 1, "arch": 2}}')
    assert main(["validate", str(broken), "--kind", "test"]) == 2
    err = capsys.readouterr().err
    assert "duplicate JSON key 'arch'" in err and "Traceback" not in err


def test_make_test_is_deterministic_and_valid(files, tmp_path, capsys):
    args = ["make-test", "--train", str(files / "train.json"), "--n", "50", "--seed", "3", "--out"]
    assert main([*args, str(tmp_path / "a.json")]) == 0
    assert main([*args, str(tmp_path / "b.json")]) == 0
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert main(["validate", str(tmp_path / "a.json"), "--kind", "test"]) == 0


def test_make_demo_writes_both_files(tmp_path, capsys):
    train, test = tmp_path / "t.json", tmp_path / "s.json"
    assert (
        main(
            [
                "make-demo",
                "--out",
                str(train),
                "--test-out",
                str(test),
                "--n",
                "60",
                "--n-test",
                "40",
            ]
        )
        == 0
    )
    assert "SYNTHETIC" in capsys.readouterr().out
    assert len(json.loads(train.read_text())) == 60 and len(json.loads(test.read_text())) == 40


def test_run_rejects_bad_parameters_without_writing(files, tmp_path, capsys, prefect_harness):
    out = tmp_path / "sub.json"
    code = main(
        run_args(
            str(files / "train.json"), str(files / "test.json"), str(out), "--predictor", "nope"
        )
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "unknown predictor 'nope'" in err and "Traceback" not in err
    assert not out.exists()
    code = main(run_args(str(tmp_path / "absent.json"), str(files / "test.json"), str(out)))
    assert code == 2 and "does not exist" in capsys.readouterr().err


def test_run_rejects_invalid_input_and_leaves_existing_output(
    files, tmp_path, capsys, prefect_harness
):
    out = tmp_path / "sub.json"
    out.write_text("previous submission")
    code = main(
        run_args(str(files / "test.json"), str(files / "test.json"), str(out), "--holdout", "none"),
    )
    assert code == 2  # not a submission ufo wrote: refused before any work
    assert "was not written by ufo; give --force" in capsys.readouterr().err
    code = main(
        run_args(
            str(files / "test.json"),
            str(files / "test.json"),
            str(out),
            "--holdout",
            "none",
            "--force",
        )
    )
    assert code == 1
    err = capsys.readouterr().err
    assert "input rejected" in err and "no rank repeats" in err
    assert out.read_text() == "previous submission"


def test_run_writes_the_submission_and_shows_stages_then_one_tau_table(
    files, tmp_path, capsys, prefect_harness
):
    out = tmp_path / "sub.json"
    args = run_args(files / "train.json", files / "test.json", out)
    assert main([*args, "--predictor", "gpnas", "--holdout", "last:20"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    rules = len(build_expectations("train", 100))
    assert (
        f"validated train file {files / 'train.json'}: 100 entries, {rules}/{rules} rules passed"
        in lines
    )
    assert sum(line.startswith("encoded ") for line in lines) == 2
    done = [line.split()[0] for line in lines if " done (" in line]
    assert sorted(done) == sorted(TASKS), "one progress line per task (output is not a TTY)"
    table = lines.index("Kendall tau on the holdout last:20:")
    assert [line.split()[0] for line in lines[table + 3 : table + 11]] == list(TASKS)
    assert lines[table + 12].split()[0] == "average"
    payload = out.read_bytes()
    assert lines[-3:-1] == [
        f"submission written to {out}",
        f"  {len(payload)} bytes, sha256 {hashlib.sha256(payload).hexdigest()}",
    ]
    log = Path(lines[-1].removeprefix("full log: "))
    # Prefect's and GX's lines go to the log file, not to the console.
    for noise in ("Finished in state", "temporary directory", "prefect.io/docs"):
        assert noise not in captured.out + captured.err
    assert "Finished in state Completed" in log.read_text()
    assert "[fit-sop]" in log.read_text()
    # The same run again: every fit and holdout evaluation comes back from the cache, and
    # the console says so from the task states (Prefect's "Cached" state).
    assert main([*args, "--predictor", "gpnas", "--holdout", "last:20"]) == 0
    done = [line for line in capsys.readouterr().out.splitlines() if " done (" in line]
    assert len(done) == len(TASKS)
    assert all(line.endswith("holdout cached, fit cached") for line in done), done
    # ufo wrote it, so a second run replaces it without --force.
    assert main([*args, "--predictor", "ridge", "--holdout", "none"]) == 0
    assert (
        main(["validate", str(out), "--kind", "submission", "--test", str(files / "test.json")])
        == 0
    )


def test_a_retried_fit_is_shown_at_each_new_attempt(files, tmp_path, capsys, prefect_harness):
    """--fault fails every attempt of one fit within the run: the console shows the two
    retries (Prefect's Retrying states), then the run fails. (--refit: an earlier test may
    have cached that fit, and a cached fit does not run.)"""
    out = tmp_path / "sub.json"
    args = run_args(files / "train.json", files / "test.json", out, "--holdout", "none")
    # msmt17: no other test injects a fault there (a fault fires in one flow run only).
    code = main([*args, "--predictor", "ridge", "--refit", "--fault", "fit:msmt17"])
    captured = capsys.readouterr()
    assert code != 0 and not out.exists()
    retries = [line for line in captured.out.splitlines() if "retrying" in line]
    assert retries == [
        "  fit-msmt17 failed; retrying (attempt 2 of 3)",
        "  fit-msmt17 failed; retrying (attempt 3 of 3)",
    ]


def test_verbose_brings_the_full_logs_back_to_the_console(files, capsys):
    args = ["validate", str(files / "train.json"), "--kind", "train"]
    assert main(args) == 0
    assert "tasks.checks.validation" not in capsys.readouterr().err
    assert main([*args, "--verbose"]) == 0
    assert "INFO    tasks.checks.validation: " in capsys.readouterr().err


def test_an_unknown_predictor_is_a_user_error_everywhere(files, capsys):
    code = main(["evaluate", "--train", str(files / "train.json"), "--predictor", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and "unknown predictor 'nope'; registered: " in err
    assert "Traceback" not in err


def test_a_bug_is_not_reported_as_a_user_error(files, capsys, monkeypatch):
    """A KeyError from inside the code (here: a corrupted registry) is an internal error:
    exit 3, a short message, and the traceback in the log file whose path is printed."""
    import tasks.predict.evaluate

    def broken(*args, **kwargs):
        return {}["cplfw"]

    monkeypatch.setattr(tasks.predict.evaluate, "evaluate_predictor", broken)
    code = main(["evaluate", "--train", str(files / "train.json"), "--predictor", "ridge"])
    err = capsys.readouterr().err
    assert code == 3
    assert "ufo: internal error (KeyError: 'cplfw'). This is a bug in ufo-nas" in err
    assert "Traceback" not in err
    log = Path(err.split("The full traceback is in ")[1].splitlines()[0])
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged and "KeyError: 'cplfw'" in logged


def test_a_nan_rank_is_rejected_naming_file_entry_and_field(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"arch1": {"arch": "x", "cplfw_rank": 0}, "arch37": {"cplfw_rank": NaN}}')
    assert main(["validate", str(bad), "--kind", "train"]) == 2
    err = capsys.readouterr().err
    assert err == (
        f"ufo: {bad}: entry 'arch37', field 'cplfw_rank': NaN is not allowed, "
        "expected an integer rank\n"
    )


def test_run_refuses_to_replace_a_file_it_did_not_write(files, tmp_path, capsys):
    notes = tmp_path / "notes.json"
    notes.write_text("my notes")
    code = main(run_args(files / "train.json", files / "test.json", notes))
    assert code == 2
    err = capsys.readouterr().err
    assert f"output {notes} exists and was not written by ufo; give --force" in err
    assert "Traceback" not in err and notes.read_text() == "my notes"


def test_the_ufo_command_skips_only_the_interpreter_teardown(files, tmp_path):
    """The `ufo` script (flows.cli.entry_point) ends with os._exit after the command: its
    exit code, everything it printed to a pipe, its log file and every atexit hook (the
    temporary server's stop; Prefect's own) must still come through, and an open thread
    pool must not keep it waiting; the teardown that would free every object is skipped."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "UFO_DATA_DIR": str(tmp_path / "data")}
    marker, teardown = tmp_path / "atexit-ran", tmp_path / "teardown-ran"
    script = (
        "import atexit, sys\n"
        "from concurrent.futures import ThreadPoolExecutor\n"
        "from flows.cli import entry_point\n"
        f"atexit.register(lambda: open({str(marker)!r}, 'w').write('ran'))\n"
        # A pool left open: its idle worker is a non-daemon thread, as at interpreter exit.
        "pool = ThreadPoolExecutor(1)\n"
        "pool.submit(int).result()\n"
        # Freed only by the interpreter's teardown, after the atexit hooks.
        "class FreedAtTeardown:\n"
        # (`open` bound now: the teardown may have removed the builtins by then)
        f"    def __del__(self, open=open): open({str(teardown)!r}, 'w').write('ran')\n"
        "kept = FreedAtTeardown()\n"
        "entry_point()\n"
    )
    cases = [
        (["validate", str(files / "train.json"), "--kind", "train"], 0, "rules passed"),
        (["validate", str(files / "test.json"), "--kind", "train"], 1, "no rank repeats"),
        (["validate", str(tmp_path / "missing.json"), "--kind", "test"], 2, "missing.json"),
    ]
    for argv, code, expected in cases:
        marker.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", script, *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,  # an exit that waits on the idle pool never ends
        )
        assert done.returncode == code, done.stderr
        assert expected in done.stdout + done.stderr
        assert marker.read_text() == "ran"
        assert not teardown.exists()
        if code in (0, 1):  # a validation writes a log; its last line is the command's end
            last = done.stdout.strip().splitlines()[-1]
            assert last.startswith("full log: "), done.stdout
            log = Path(last.removeprefix("full log: "))
            assert "rules passed" in log.read_text()
    # The installed script is the same entry point.
    done = subprocess.run(
        [Path(sys.executable).parent / "ufo", "validate", str(files / "train.json"), "--kind", "train"],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip().splitlines()[-1].startswith("full log: ")
