"""Training files of measurements: the suite they pass, and one bad file per rule, each
reported naming the file, the entry and the field."""

import copy

import pytest

from schemas.search_space import ARCH_FIELD
from schemas.suites import MEASUREMENTS, build_expectations
from tasks.checks.validation import validate_frame
from tasks.files.measurements import task_fields
from tasks.files.reading import read_competition_file, records_to_frame
from tests.factories import as_scores, some_archs, train_records, without_task, write_csv

ARCHS = some_archs(8, seed=11)


def _measured() -> dict[str, dict]:
    """Ranks for six tasks, scores for two; arch2 lacks cplfw and arch3 lacks sop."""
    records = without_task(train_records(ARCHS, seed=4), "cplfw", ["arch2"])
    records = without_task(records, "sop", ["arch3"])
    return as_scores(records, ["sop", "veri"])


def _report(records, source="m.json"):
    return validate_frame(records_to_frame(records), "train", source=source)


def _failures(report) -> set[tuple[str, str]]:
    return {(f.field, f.rule.split(" (")[0]) for f in report.failures}


def test_a_file_of_measurements_passes_every_rule_of_its_suite():
    records = _measured()
    report = _report(records)
    assert report.success, report.to_text()
    assert report.suite == MEASUREMENTS
    layout = task_fields(records_to_frame(records))
    assert len(report.results) == len(build_expectations(MEASUREMENTS, len(ARCHS), layout))
    assert report.to_text().startswith("m.json (train file, read as measurements, 8 entries)")


def test_a_csv_file_of_measurements_passes_too(tmp_path):
    path = write_csv(tmp_path / "m.csv", _measured(), keys=False)
    frame, _ = read_competition_file(path)
    report = validate_frame(frame, "train", source=str(path))
    assert report.success, report.to_text()


def _mutated(fn):
    records = copy.deepcopy(_measured())
    fn(records)
    return records


def _both_ways(records):
    records["arch5"]["market1501_score"] = 0.5


def _mixed(records):
    records["arch5"]["market1501_score"] = 0.5
    records["arch5"].pop("market1501_rank")


def _gap(records):
    best = next(k for k, e in records.items() if e["msmt17_rank"] == 0)
    records[best].pop("msmt17_rank")  # ranks 1..7 are left: 0 is missing


CASES = [
    (
        "a task mixes ranks and scores",
        _mixed,
        ("market1501_score", "market1501 is given one way in a file, market1501_rank or "),
        "entry 'arch5': market1501_score = 0.5",
    ),
    (
        "an entry gives a task both ways",
        _both_ways,
        ("market1501_score", "market1501 is given one way in a file, market1501_rank or "),
        "entry 'arch5': market1501_score = 0.5",
    ),
    (
        "a gap in a task's ranks",
        _gap,
        ("msmt17_rank", "ranks of the 7 entries measured on msmt17 are within 0..6"),
        "msmt17_rank = 7",
    ),
    (
        "a repeated rank",
        lambda r: r["arch1"].__setitem__("cplfw_rank", r["arch4"]["cplfw_rank"]),
        ("cplfw_rank", "no rank repeats within the task"),
        "entry 'arch1': cplfw_rank = ",
    ),
    (
        "a rank that is not an integer",
        lambda r: r["arch1"].__setitem__("cplfw_rank", 1.5),
        ("cplfw_rank", "rank is an integer"),
        "entry 'arch1': cplfw_rank = 1.5",
    ),
    (
        "a score that is not a number",
        lambda r: r["arch6"].__setitem__("veri_score", "high"),
        ("veri_score", "score is a finite number"),
        "entry 'arch6': veri_score = 'high'",
    ),
    (
        "a score that is a boolean",
        lambda r: r["arch6"].__setitem__("veri_score", True),
        ("veri_score", "score is a finite number"),
        "entry 'arch6': veri_score = True",
    ),
    (
        "a score no float can hold",
        lambda r: r["arch6"].__setitem__("veri_score", 10**400),
        ("veri_score", "score is a finite number"),
        "entry 'arch6': veri_score = 1000",
    ),
    (
        "the same arch measured twice, differently",
        lambda r: r["arch7"].__setitem__(ARCH_FIELD, r["arch8"][ARCH_FIELD]),
        ("arch", "no duplicate arch"),
        "entry 'arch7': arch = ",
    ),
    (
        "an unknown task",
        lambda r: r["arch2"].__setitem__("imagenet_rank", 3),
        ("*", "no unknown fields"),
        "entry 'arch2': unknown field 'imagenet_rank' = 3",
    ),
    (
        "an entry without an arch",
        lambda r: r["arch2"].pop(ARCH_FIELD),
        ("arch", "arch is present"),
        "entry 'arch2': no arch",
    ),
    (
        "a task measured on too few entries",
        lambda r: [r[f"arch{i}"].pop("veriwild_rank") for i in range(1, 6)],
        ("veriwild_rank", "veriwild is measured on at least 4 entries"),
        "(measured on 3 entries)",
    ),
]


@pytest.mark.parametrize("label,mutate,expected,shown", CASES, ids=[c[0] for c in CASES])
def test_each_measurement_rule_catches_its_bad_file_naming_entry_and_field(
    label, mutate, expected, shown
):
    records = _mutated(mutate)
    report = _report(records)
    failures = _failures(report)
    assert expected[0] in {field for field, _ in failures}, report.to_text()
    assert any(rule.startswith(expected[1]) for field, rule in failures if field == expected[0])
    text = report.to_text()
    assert text.startswith("m.json (train file, read as measurements, 8 entries)")
    assert f"FAILED [{expected[0]}] expected: {expected[1]}" in text
    assert shown in text, text


def test_a_mixed_task_names_both_fields_and_their_counts():
    report = _report(_mutated(_mixed))
    assert (
        "market1501 is given one way in a file, market1501_rank or market1501_score, not both "
        "(market1501_rank in 7 entries, market1501_score in 1)" in report.to_text()
    )


@pytest.mark.parametrize("cell", ["nan", "inf", "-inf"])
def test_a_non_finite_score_in_a_csv_is_named_by_the_suite(tmp_path, cell):
    path = write_csv(tmp_path / "m.csv", _measured(), keys=False)
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("veri_score")
    cells = lines[3].split(",")
    cells[column] = cell
    lines[3] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    frame, _ = read_competition_file(path)
    report = validate_frame(frame, "train", source=str(path))
    assert _failures(report) == {("veri_score", "score is a finite number")}
    assert str(path) in report.to_text()
    assert "entry 'row3': veri_score = " in report.to_text()
