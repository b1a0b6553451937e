"""Reading measurement files: CSV into the JSON reader's frame, and what a frame measures."""

import math

import numpy as np
import pandas as pd
import pytest

from schemas.search_space import ARCH_FIELD, KEY_COLUMN, RANK_FIELDS
from tasks.errors import InputFileError
from tasks.files.measurements import (
    is_competition_layout,
    ranks_from_scores,
    task_fields,
)
from tasks.files.reading import read_competition_file, records_to_frame
from tests.factories import (
    as_scores,
    some_archs,
    train_records,
    without_task,
    write_csv,
    write_json,
)

ARCHS = some_archs(6, seed=7)


def _measured():
    """Ranks for most tasks, scores for two, and one entry not measured on cplfw."""
    records = without_task(train_records(ARCHS, seed=3), "cplfw", ["arch2"])
    return as_scores(records, ["sop", "veri"])


def test_a_csv_file_reads_into_the_frame_its_json_twin_gives(tmp_path):
    records = _measured()
    from_json, _ = read_competition_file(write_json(tmp_path / "m.json", records))
    from_csv, _ = read_competition_file(write_csv(tmp_path / "m.csv", records))
    assert list(from_csv.columns) == list(from_json.columns)
    pd.testing.assert_frame_equal(from_csv, from_json)
    assert from_csv.loc[1, "cplfw_rank"] is None  # an empty cell: not measured


def test_without_a_key_column_entries_are_keyed_by_data_row(tmp_path):
    frame, _ = read_competition_file(write_csv(tmp_path / "m.csv", _measured(), keys=False))
    assert list(frame[KEY_COLUMN]) == [f"row{i}" for i in range(1, len(ARCHS) + 1)]
    assert list(frame[ARCH_FIELD]) == ARCHS


def test_csv_cells_are_read_as_numbers_or_kept_as_written_for_the_suite(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text(
        "\ufeffarch, cplfw_rank ,sop_score\n"  # a BOM and spaces around names are tolerated
        f"{ARCHS[0]}, 3 ,nan\n{ARCHS[1]},1.5,inf\n{ARCHS[2]},,abc\n"
    )
    frame, _ = read_competition_file(path)
    assert list(frame["cplfw_rank"]) == [3, "1.5", None]
    nan, inf, text = frame["sop_score"]
    assert math.isnan(nan) and inf == math.inf and text == "abc"


@pytest.mark.parametrize(
    "text,message",
    [
        ("", "m.csv: the file is empty"),
        ("cplfw_rank,sop_rank\n1,2\n", "m.csv: line 1: no 'arch' column"),
        ("arch,sop_rank,sop_rank\n", "m.csv: line 1: column 'sop_rank' appears more than once"),
        ("arch,,sop_rank\n", "m.csv: line 1: column 2 of the header has no name"),
        ("arch,sop_rank\n", "m.csv: the file holds no archs"),
        (f"arch,sop_rank\n{ARCHS[0]},1,2\n", "m.csv: line 2: 3 cells, the header has 2"),
        (
            f"key,arch\na,{ARCHS[0]}\nb,{ARCHS[1]}\na,{ARCHS[2]}\n",
            "m.csv: line 4: entry 'a' appears more than once (first on line 2",
        ),
        (f"key,arch\n ,{ARCHS[0]}\n", "m.csv: line 2: the 'key' cell is empty"),
        (f'arch,sop_rank\n"{ARCHS[0]}"x,1\n', "m.csv: line 2: not valid CSV"),
    ],
)
def test_a_broken_csv_is_refused_naming_the_file_and_the_line(tmp_path, text, message):
    path = tmp_path / "m.csv"
    path.write_text(text)
    with pytest.raises(InputFileError) as caught:
        read_competition_file(path)
    assert str(caught.value).startswith(f"{path.parent}/{message}"), caught.value


def test_a_csv_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"arch,sop_rank\n\xff\n")
    with pytest.raises(InputFileError, match="m.csv: not UTF-8"):
        read_competition_file(path)


def test_a_json_file_of_scores_alone_is_read_for_the_suite_to_judge(tmp_path):
    records = {
        k: {f: v for f, v in e.items() if f.endswith("_score")} for k, e in _measured().items()
    }
    frame, _ = read_competition_file(write_json(tmp_path / "m.json", records))
    assert len(frame) == len(ARCHS) and frame[ARCH_FIELD].isna().all()


def test_the_layout_names_each_tasks_fields_and_counts():
    assert is_competition_layout(records_to_frame(train_records(ARCHS)))
    measured = records_to_frame(_measured())
    assert not is_competition_layout(measured)
    layout = task_fields(measured)
    assert layout["cplfw"] == {"cplfw_rank": len(ARCHS) - 1}
    assert layout["sop"] == {"sop_score": len(ARCHS)}
    mixed = _measured()
    mixed["arch1"]["cplfw_score"] = 1.0
    assert task_fields(records_to_frame(mixed))["cplfw"] == {
        "cplfw_rank": len(ARCHS) - 1,
        "cplfw_score": 1,
    }
    nothing = records_to_frame({"a": {ARCH_FIELD: ARCHS[0]}})
    assert task_fields(nothing) == {f.removesuffix("_rank"): {f: 0} for f in RANK_FIELDS}


def test_scores_rank_highest_first_and_ties_keep_file_order():
    assert list(ranks_from_scores(np.array([0.5, 2.0, -1.0, 2.0, 0.5]))) == [2, 0, 4, 1, 3]
    with pytest.raises(ValueError, match="NaN or infinity"):
        ranks_from_scores(np.array([1.0, np.nan]))


@pytest.mark.parametrize(
    "literal,shown", [("NaN", "NaN"), ("-Infinity", "-Infinity"), ("1e999", "inf")]
)
def test_a_non_finite_score_in_json_is_refused_naming_the_entry_and_field(tmp_path, literal, shown):
    path = tmp_path / "m.json"
    path.write_text(f'{{"a": {{"arch": "{ARCHS[0]}", "sop_score": {literal}}}}}')
    with pytest.raises(InputFileError) as caught:
        read_competition_file(path)
    assert f"m.json: entry 'a', field 'sop_score': {shown}" in str(caught.value)
    assert "expected a finite number" in str(caught.value)
