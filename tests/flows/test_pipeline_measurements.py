"""`ufo run` on a CSV of one's own measurements (issue 18), under a temporary Prefect API."""

import re

from flows.cli import main
from schemas.search_space import ARCH_FIELD, TASKS
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train, make_test_standin
from tests.factories import as_scores, without_task, write_csv
from tests.tasks.predict.test_measurements import _submission_bytes


def test_run_on_measurements_fits_each_task_on_its_rows_and_refuses_a_bad_file(
    tmp_path, capsys, prefect_harness
):
    train = make_demo_train(60, seed=3)
    records = frame_to_records(train)
    lacking = list(records)[:7]
    records = as_scores(without_task(records, "cplfw", lacking), ["sop", "veri"])
    train_path = write_csv(tmp_path / "train.csv", records, keys=False)
    test_path = tmp_path / "test.json"
    write_competition_file(
        test_path, frame_to_records(make_test_standin(list(train[ARCH_FIELD]), 80, seed=4))
    )
    out = tmp_path / "sub.json"
    args = ["run", "--train", str(train_path), "--test", str(test_path), "--holdout", "kfold:3"]

    assert main([*args, "--out", str(out)]) == 0, capsys.readouterr().err
    printed = capsys.readouterr().out
    log = re.search(r"full log: (\S+)", printed).group(1)
    fits = re.findall(r"(\w+): fitted shared_relevance on (\d+) archs", open(log).read())
    expected = {task: str(len(train) - (len(lacking) if task == "cplfw" else 0)) for task in TASKS}
    assert dict(fits) == expected
    # ... and the console says so, per task
    lines = {task: re.search(rf"^  {task} +done .*$", printed, re.M).group(0) for task in TASKS}
    assert all(f"fitted on {expected[task]} entries" in lines[task] for task in TASKS), lines
    # The flow writes what the plain steps write from the same file.
    assert out.read_bytes() == _submission_bytes(
        train_path, test_path, tmp_path / "plain.json", "shared_relevance"
    )

    bad = dict(records)
    fifth = list(bad)[4]  # keys=False: the CSV calls it row5
    bad[fifth] = {**bad[fifth], "market1501_score": 0.5}
    bad_path = write_csv(tmp_path / "bad.csv", bad, keys=False)
    bad_out = tmp_path / "bad-sub.json"
    code = main(["run", "--train", str(bad_path), "--test", str(test_path), "--out", str(bad_out)])
    err = capsys.readouterr().err
    assert code == 1 and not bad_out.exists()
    assert "input rejected, nothing was written" in err
    assert f"{bad_path} (train file, read as measurements, 60 entries)" in err
    assert "FAILED [market1501_score]" in err and "entry 'row5': market1501_score = 0.5" in err
