"""`ufo propose` and the ufo-propose flow, under a temporary Prefect API, on small data."""

from __future__ import annotations

import json

import pytest

from flows.cli import main
from schemas.search_space import TASKS
from tasks.files.writing import frame_to_records, write_competition_file
from tasks.predict.synthetic import make_demo_train


@pytest.fixture(scope="module")
def train_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("propose") / "train.json"
    write_competition_file(path, frame_to_records(make_demo_train(150, seed=12)))
    return path


def test_propose_writes_k_distinct_unseen_proposals_within_budget(
    prefect_harness, train_file, capsys
):
    out = train_file.parent / "proposals"
    args = ["propose", "--train", str(train_file), "--predictor", "kernel_ridge", "--n", "4",
            "--budget", "params=70M", "--max-evals", "1000", "--out", str(out)]  # fmt: skip
    assert main(args) == 0
    proposals = json.loads((out / "proposals.json").read_text())
    labelled = {e["arch"] for e in json.loads(train_file.read_text()).values()}
    archs = [p["arch"] for p in proposals]
    assert len(set(archs)) == 4 and not set(archs) & labelled
    assert all(p["params"] <= 70e6 and p["predicted_sd"] > 0 and p["reason"] for p in proposals)
    assert all(set(p["sd_per_task"]) == set(TASKS) for p in proposals)
    assert proposals[0]["supernet_config"]["layer_num"] == proposals[0]["depth"]
    assert (out / "proposals.csv").read_text().count("\n") == 5  # header + 4
    printed = capsys.readouterr().out
    assert "evaluate next, within params=70M" in printed and archs[0] in printed


@pytest.mark.parametrize("n", ["0", "101"])
def test_propose_refuses_a_bad_batch_size_before_any_work(train_file, tmp_path, capsys, n):
    code = main(["propose", "--train", str(train_file), "--n", n, "--out", str(tmp_path / "p")])
    assert code == 2 and "n must be a whole number from 1 to 100" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_propose_checks_its_output_before_any_work(train_file, tmp_path, capsys):
    """A proposals file ufo did not write is refused without --force, an output that is
    the training file or under a regular file too: exit 2, one line, nothing written."""
    out = tmp_path / "p"
    out.mkdir()
    (out / "proposals.csv").write_text("mine\n")
    base = ["propose", "--train", str(train_file), "--predictor", "ridge"]
    assert main([*base, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "proposals.csv" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert (out / "proposals.csv").read_text() == "mine\n" and not (out / "proposals.json").exists()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main([*base, "--out", str(blocker / "p")]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_proposals_beside_a_search_report_keep_it_whole(prefect_harness, train_file, tmp_path):
    """ufo propose into the search's folder (the default for both): every name of both
    reports shows its own file afterwards, and a later search keeps the proposals."""
    out = tmp_path / "shared"
    common = ["--train", str(train_file), "--predictor", "ridge", "--out", str(out)]
    assert main(["search", *common, "--budget", "params=70M", "--top", "3"]) == 0
    picks = (out / "picks.json").read_bytes()
    assert main(["propose", *common, "--budget", "params=70M", "--n", "3"]) == 0
    proposals = (out / "proposals.json").read_bytes()
    assert (out / "picks.json").read_bytes() == picks
    assert main(["search", *common, "--budget", "params=70M", "--top", "3"]) == 0
    assert (out / "proposals.json").read_bytes() == proposals
