"""A multi-file report is one unit: a writer killed (kill -9) at any step leaves the old
report or the new one, never a mix, and the next run removes what it left; two writers
into one folder commit one after the other. The writers are real processes whose renames
are slowed down, so that each can be killed between any two of them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tasks.errors import OutputError, ParameterError
from tasks.files import atomic
from tasks.safety import ledger, outputs, reports

NAMES = ("picks.json", "picks.csv", "front.json", "front.csv", "front.png")
ROOT = Path(__file__).resolve().parents[3]

# A writer: stages one file per name holding "<tag> <name>", and prints a line when
# staging starts and before and after each rename, then sleeps `pause` seconds (at its
# line number `stop_at`: until it is killed).
WRITER = """
import itertools, sys, time
from pathlib import Path
from tasks.safety import reports

out, tag, pause, stop_at = Path(sys.argv[1]), sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
names = tuple(sys.argv[5:])
rename = reports._rename
lines = itertools.count()


def say(what):
    print(what, time.monotonic(), flush=True)
    time.sleep(600 if next(lines) == stop_at else pause)


def slow_rename(source, target):
    say(f"before {target.name}")
    rename(source, target)
    say(f"after {target.name}")


reports._rename = slow_rename
with reports.staged_report(out, names, replace_any=False, hint="h") as staging:
    say("staging")
    for name in names:
        (staging / name).write_text(f"{tag} {name}")
print("done", time.monotonic(), flush=True)
"""


def _writer(out: Path, tag: str, pause: float, stop_at: int = -1) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(out), tag, str(pause), str(stop_at), *NAMES],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )


def _report(tag: str) -> dict[str, str]:
    return {name: f"{tag} {name}" for name in NAMES}


def _seen(out: Path) -> dict[str, str | None]:
    """What a reader sees: each name's content, None when absent."""
    return {n: (out / n).read_text() if (out / n).is_file() else None for n in NAMES}


def _steps(out: Path, tag: str) -> list[str]:
    """The lines a full write prints: the points at which the tests kill it."""
    writer = _writer(out, tag, 0.0)
    lines = [line.split()[:-1] for line in writer.stdout]
    assert writer.wait() == 0
    return [" ".join(words) for words in lines if words != ["done"]]


def _kill_at(out: Path, tag: str, step: int) -> str:
    """Start a writer and kill -9 it while it sleeps after printing its line `step`."""
    writer = _writer(out, tag, 0.0, stop_at=step)
    try:
        for _ in range(step + 1):
            line = writer.stdout.readline()
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    return " ".join(line.split()[:-1])


def _leftovers(out: Path) -> set[str]:
    """Entries beyond the report's names, its current version, the link and the ledger."""
    expected = {*NAMES, reports.CURRENT, reports.current_version(out), ledger.LEDGER_NAME}
    return {p.name for p in out.iterdir()} - expected


def _old_report_by_an_older_ufo(out: Path) -> None:
    """Regular files, recorded in the ledger, as ufo wrote reports before the unit."""
    out.mkdir()
    for name, text in _report("old").items():
        (out / name).write_text(text)
        ledger.record_written(out / name, atomic.sha256_file(out / name))


def _old_report_in_the_unit(out: Path) -> None:
    with reports.staged_report(out, NAMES, replace_any=False, hint="h") as staging:
        for name, text in _report("old").items():
            (staging / name).write_text(text)


@pytest.mark.parametrize(
    "old_report", [_old_report_in_the_unit, _old_report_by_an_older_ufo], ids=["unit", "older"]
)
def test_a_writer_killed_at_any_step_leaves_the_old_report_or_the_new(tmp_path, old_report):
    reference = tmp_path / "reference"
    old_report(reference)
    steps = _steps(reference, "new")
    assert steps[0] == "staging" and len(steps) > 2  # staging, then before/after each rename
    assert _seen(reference) == _report("new")
    seen_new_at = []
    for index, step in enumerate(steps):
        out = tmp_path / f"killed-{index}"
        old_report(out)
        assert _kill_at(out, "new", index) == step
        seen = _seen(out)
        assert seen in (_report("old"), _report("new")), f"a mix after a kill at {step!r}"
        seen_new_at.append(seen == _report("new"))
        # The next run: its check before any work passes (every file there is ufo's),
        # removes what the killed writer left, and its own report replaces the folder's.
        outputs.check_report_output(out, NAMES, replace_any=False)
        assert _leftovers(out) == set(), f"left behind after a kill at {step!r}"
        assert _seen(out) == seen
        _old_report_in_the_unit(out)
        assert _seen(out) == _report("old") and _leftovers(out) == set()
    # The switch is one step, the last rename of `.report`: the old report before it
    # (a report by an older ufo is first adopted, unchanged), the new one from it on.
    switch = max(i for i, step in enumerate(steps) if step == f"after {reports.CURRENT}")
    assert seen_new_at == [index >= switch for index in range(len(steps))]


def test_writers_killed_twice_in_a_row_leave_a_report_the_next_run_may_replace(tmp_path):
    out, reference = tmp_path / "report", tmp_path / "reference"
    _old_report_in_the_unit(out)
    _old_report_in_the_unit(reference)
    switch = len(_steps(reference, "x")) - 2  # the line before the last rename
    for tag in ("new", "newer"):  # each recorded its digests in the ledger, then was killed
        assert _kill_at(out, tag, switch) == f"before {reports.CURRENT}"
        assert _seen(out) == _report("old")
    outputs.check_report_output(out, NAMES, replace_any=False)


def test_two_writers_into_one_folder_commit_one_after_the_other(tmp_path):
    out = tmp_path / "report"
    _old_report_in_the_unit(out)
    writers = {tag: _writer(out, tag, 0.3) for tag in ("a", "b")}
    events = {}
    for tag, writer in writers.items():
        lines = [line.split() for line in writer.stdout]
        assert writer.wait() == 0
        events[tag] = [float(words[-1]) for words in lines if words[0] in ("before", "after")]
    (a_start, a_end), (b_start, b_end) = ((min(t), max(t)) for t in events.values())
    assert a_end < b_start or b_end < a_start  # the renames of one never among the other's
    assert _seen(out) in (_report("a"), _report("b"))
    assert _leftovers(out) == set()


def test_a_file_ufo_did_not_write_is_refused_and_nothing_replaced(tmp_path):
    out = tmp_path / "report"
    _old_report_in_the_unit(out)
    (out / "front.csv").unlink()
    (out / "front.csv").write_text("my own table")
    before = _seen(out)
    with pytest.raises(OutputError, match=r"front\.csv exists and was not written by ufo; h"):
        with reports.staged_report(out, NAMES, replace_any=False, hint="h") as staging:
            for name, text in _report("new").items():
                (staging / name).write_text(text)
    assert _seen(out) == before and _leftovers(out) == set()
    # With replace_any (--force) it is replaced, with the rest, as one unit.
    with reports.staged_report(out, NAMES, replace_any=True, hint="h") as staging:
        for name, text in _report("new").items():
            (staging / name).write_text(text)
    assert _seen(out) == _report("new") and _leftovers(out) == set()
    assert all((out / name).is_symlink() for name in NAMES)


def test_a_folder_or_a_foreign_link_under_a_report_name_is_never_replaced(tmp_path):
    out = tmp_path / "report"
    out.mkdir()
    (out / "picks.json").mkdir()
    (out / "front.png").symlink_to(tmp_path / "elsewhere.png")
    for replace_any in (False, True):
        with pytest.raises(OutputError) as raised:
            with reports.staged_report(out, NAMES, replace_any=replace_any, hint="h") as staging:
                (staging / "picks.json").write_text("x")
        assert "picks.json exists and is a folder" in str(raised.value)
        assert "front.png exists and is a symbolic link ufo did not make" in str(raised.value)
    assert (out / "picks.json").is_dir() and not (tmp_path / "elsewhere.png").exists()
    (out / reports.CURRENT).mkdir()  # names would resolve into a folder that is not ours
    problems = reports.folder_problems(out, (), replace_any=True, hint="h")
    assert problems == [
        f"{out / reports.CURRENT} exists and is not ufo's report link; choose another folder"
    ]


def test_stale_staging_folders_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "report"
    _old_report_in_the_unit(out)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True
    )
    dead_pid = int(dead.stdout)
    stale = out / f"{reports.STAGING_PREFIX}{dead_pid}-00ff"
    live = out / f"{reports.STAGING_PREFIX}{os.getpid()}-00ff"
    old_legacy, young_legacy = out / ".staging-abcd1234", out / ".staging-efgh5678"
    for folder in (stale, live, old_legacy, young_legacy):
        folder.mkdir()
        (folder / "picks.json").write_text("half")
    an_hour_ago = time.time() - reports.LEGACY_STAGING_AGE_S - 60
    os.utime(old_legacy, (an_hour_ago, an_hour_ago))
    orphan = out / f"{reports.VERSION_PREFIX}{'0' * 16}"  # a version nothing points to
    orphan.mkdir()
    removed = reports.clean_report_folder(out)
    assert sorted(removed) == sorted([stale.name, old_legacy.name, orphan.name])
    assert _leftovers(out) == {live.name, young_legacy.name}
    assert _seen(out) == _report("old")


def test_the_output_check_refuses_before_any_work(tmp_path):
    out = tmp_path / "report"
    _old_report_in_the_unit(out)
    train = out / "front.json"  # an input that is one of the report's files
    with pytest.raises(ParameterError, match=r"report file .*front\.json is the train file"):
        outputs.check_report_output(out, NAMES, inputs={"train": train}, replace_any=True)
    regular = tmp_path / "a-file"
    regular.write_text("x")
    with pytest.raises(ParameterError, match="is a file; give a folder"):
        outputs.check_report_output(regular, NAMES, replace_any=False)
    with pytest.raises(ParameterError, match=f"{regular} is not a folder"):
        outputs.check_report_output(regular / "sub", NAMES, replace_any=False)
    (tmp_path / "fresh" / "picks.json").parent.mkdir()
    (tmp_path / "fresh" / "picks.json").write_text(json.dumps(["mine"]))
    with pytest.raises(ParameterError, match="picks.json exists and was not written by ufo"):
        outputs.check_report_output(tmp_path / "fresh", NAMES, replace_any=False)
    outputs.check_report_output(tmp_path / "fresh", NAMES, replace_any=True)
    outputs.check_report_output(tmp_path / "new" / "deeper", NAMES, replace_any=False)
    assert not (tmp_path / "new").exists()  # a check writes nothing


def test_two_reports_share_a_folder_and_each_keeps_the_others_files(tmp_path):
    """A search's report and ufo propose's in one folder: writing one carries the other's
    files into the new version, so every name still shows its own report."""
    out = tmp_path / "out"
    proposals = ("proposals.json", "proposals.csv")

    def write(names, tag):
        with reports.staged_report(out, names, replace_any=False, hint="h") as staging:
            for name in names:
                (staging / name).write_text(f"{tag} {name}")

    write(NAMES, "search-1")
    write(proposals, "propose-1")
    shown = {name: (out / name).read_text() for name in (*NAMES, *proposals)}
    assert shown == {**_report("search-1"), **{n: f"propose-1 {n}" for n in proposals}}
    write(NAMES, "search-2")
    shown = {name: (out / name).read_text() for name in (*NAMES, *proposals)}
    assert shown == {**_report("search-2"), **{n: f"propose-1 {n}" for n in proposals}}
    versions = [p.name for p in out.iterdir() if p.name.startswith(reports.VERSION_PREFIX)]
    assert len(versions) == 1  # the old versions are gone
