"""One bad file per rule: each must fail that rule, name its field and show an example."""

import copy

import pytest

from schemas.search_space import RANK_FIELDS
from schemas.suites import build_expectations
from tasks.checks.validation import ValidationFailed, require_valid, validate_frame
from tasks.files.reading import records_to_frame
from tests.factories import some_archs, train_records, unlabelled_records

ARCHS = some_archs(6, seed=5)


def _train():
    return train_records(ARCHS, seed=1)


def _failures(records, kind="train", reference=None):
    report = validate_frame(records_to_frame(records), kind, source="f.json", reference=reference)
    return report, {(f.field, f.rule.split(" (")[0]) for f in report.failures}


def test_a_good_train_file_passes_every_rule_of_its_suite():
    report, failures = _failures(_train())
    assert report.success and failures == set()
    assert len(report.results) == len(build_expectations("train", len(ARCHS)))


def _mutate(fn):
    records = copy.deepcopy(_train())
    fn(records)
    return records


CASES = [
    (
        "rank is a float",
        lambda r: r["arch2"].__setitem__("veri_rank", 1.5),
        ("veri_rank", "rank is an integer"),
        "arch2",
    ),
    (
        "rank is a string",
        lambda r: r["arch2"].__setitem__("veri_rank", "3"),
        ("veri_rank", "rank is an integer"),
        "arch2",
    ),
    (
        "rank out of range",
        lambda r: r["arch3"].__setitem__("msmt17_rank", 6),
        ("msmt17_rank", "rank is within 0..5"),
        "arch3",
    ),
    (
        "negative rank",
        lambda r: r["arch3"].__setitem__("msmt17_rank", -1),
        ("msmt17_rank", "rank is within 0..5"),
        "arch3",
    ),
    (
        "repeated rank",
        lambda r: r["arch1"].__setitem__("cplfw_rank", r["arch2"]["cplfw_rank"]),
        ("cplfw_rank", "no rank repeats within the task"),
        "arch1",
    ),
    (
        "bad grammar",
        lambda r: r["arch4"].__setitem__("arch", "j" + "111" * 12),
        ("arch", "arch follows the 37-character grammar"),
        "arch4",
    ),
    (
        "arch not a string",
        lambda r: r["arch4"].__setitem__("arch", 7),
        ("arch", "arch is a string"),
        "arch4",
    ),
    ("missing arch", lambda r: r["arch4"].pop("arch"), ("arch", "arch is present"), "arch4"),
    (
        "duplicate arch",
        lambda r: r["arch5"].__setitem__("arch", r["arch6"]["arch"]),
        ("arch", "no duplicate arch"),
        "arch5",
    ),
    (
        "unknown field",
        lambda r: r["arch1"].__setitem__("flops", 3),
        ("*", "no unknown or missing fields"),
        "arch1",
    ),
]


@pytest.mark.parametrize("label,mutate,expected,entry", CASES, ids=[c[0] for c in CASES])
def test_each_train_rule_catches_its_bad_file_and_names_the_entry(label, mutate, expected, entry):
    report, failures = _failures(_mutate(mutate))
    assert failures == {expected}, "exactly the rule this defect breaks"
    lines = report.to_text().splitlines()
    assert lines[0].startswith("f.json (train file, 6 entries): ")
    assert lines[1].startswith(f"  FAILED [{expected[0]}] expected: {expected[1]}")
    assert any(line.strip().startswith(f"entry {entry!r}: ") for line in lines[2:]), lines


def test_unknown_field_is_named_in_the_report():
    report, _ = _failures(_mutate(lambda r: r["arch1"].__setitem__("flops", 3)))
    assert "unknown fields ['flops']" in report.to_text()


def test_an_entry_without_a_rank_makes_a_file_of_measurements_whose_gap_is_named():
    # Issue 18: an entry may lack a task; the others' ranks must then be 0..m-1.
    records = _train()
    best = next(k for k, e in records.items() if e["sop_rank"] == 0)
    worst = next(k for k, e in records.items() if e["sop_rank"] == len(ARCHS) - 1)
    records[best].pop("sop_rank")  # ranks 1..5 are left: 0 is a gap
    report, failures = _failures(records)
    assert report.to_text().startswith("f.json (train file, read as measurements, 6 entries)")
    assert failures == {("sop_rank", "ranks of the 5 entries measured on sop are within 0..4")}
    assert f"entry {worst!r}: sop_rank = 5" in report.to_text()


def test_rank_field_missing_everywhere_is_reported_as_a_task_nobody_measured():
    records = _train()
    for entry in records.values():
        entry.pop("dukemtmc_rank")
    report, failures = _failures(records)
    assert failures == {("dukemtmc_rank", "dukemtmc is measured on at least 4 entries")}
    assert "(measured on 0 entries)" in report.to_text()


def test_test_file_rules():
    good = unlabelled_records(ARCHS)
    assert validate_frame(records_to_frame(good), "test").success
    bad = copy.deepcopy(good)
    bad["arch2"].pop("cplfw_rank")
    bad["arch3"]["arch"] = "bogus"
    _, failures = _failures(bad, kind="test")
    assert ("cplfw_rank", "rank field is present in every entry") in failures
    assert ("arch", "arch follows the 37-character grammar") in failures


def _submission_from(test):
    sub = copy.deepcopy(test)
    for i, entry in enumerate(sub.values()):
        for j, field in enumerate(RANK_FIELDS):
            entry[field] = (i + j) % len(sub)
    return sub


def test_submission_rules():
    test = unlabelled_records(ARCHS)
    reference = records_to_frame(test)
    report, failures = _failures(_submission_from(test), "submission", reference)
    assert report.success, report.to_text()

    swapped = _submission_from(test)
    keys = list(swapped)
    reordered = {
        keys[1]: swapped[keys[1]],
        keys[0]: swapped[keys[0]],
        **{k: swapped[k] for k in keys[2:]},
    }
    _, failures = _failures(reordered, "submission", reference)
    assert ("key", "same keys in the same order as the test file") in failures

    other_arch = _submission_from(test)
    other_arch["arch1"]["arch"] = some_archs(8, seed=99)[7]
    _, failures = _failures(other_arch, "submission", reference)
    assert ("arch", "same arch string as the test file") in failures

    short = dict(list(_submission_from(test).items())[:-1])
    _, failures = _failures(short, "submission", reference)
    assert ("*", "one entry per test arch") in failures

    not_perm = _submission_from(test)
    not_perm["arch1"]["sop_rank"] = not_perm["arch2"]["sop_rank"]
    _, failures = _failures(not_perm, "submission", reference)
    assert ("sop_rank", "no rank repeats within the task") in failures


def test_require_valid_raises_with_the_report():
    records = _mutate(lambda r: r["arch2"].__setitem__("veri_rank", 1.5))
    report = validate_frame(records_to_frame(records), "train", source="f.json")
    with pytest.raises(ValidationFailed, match="rank is an integer") as caught:
        require_valid(report)
    assert caught.value.report is report


def test_a_bad_arch_is_reported_with_the_part_of_the_grammar_it_breaks():
    bad = "j" + "111" * 12  # depth 10, but layers 11 and 12 are not '000'
    report, _ = _failures(_mutate(lambda r: r["arch4"].__setitem__("arch", bad)))
    assert (
        f"entry 'arch4': arch = {bad!r} (layer 11 is past depth 10 and must be '000', got '111')"
        in report.to_text()
    )
