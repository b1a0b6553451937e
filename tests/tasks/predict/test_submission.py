import numpy as np
import pandas as pd
import pytest

from schemas.search_space import RANK_FIELDS, TASKS
from tasks import cancellation
from tasks.predict.submission import assemble_submission, scores_to_ranks


def test_scores_become_ranks_zero_to_n_minus_one():
    assert scores_to_ranks(np.array([0.3, -1.0, 2.0, 0.1])).tolist() == [2, 0, 3, 1]


def test_ties_keep_file_order_deterministically():
    assert scores_to_ranks(np.array([1.0, 1.0, 0.0, 1.0])).tolist() == [1, 2, 0, 3]


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan]), np.array([[1.0, 2.0]])])
def test_bad_scores_are_refused(bad):
    with pytest.raises(ValueError):
        scores_to_ranks(bad)


def test_assemble_submission_keeps_keys_order_and_archs():
    test = pd.DataFrame({"key": ["b", "a", "c"], "arch": ["x", "y", "z"]})
    scores = {t: np.array([3.0, 1.0, 2.0]) * (i + 1) for i, t in enumerate(TASKS)}
    out = assemble_submission(test, scores)
    assert list(out["key"]) == ["b", "a", "c"] and list(out["arch"]) == ["x", "y", "z"]
    for field in RANK_FIELDS:
        assert out[field].tolist() == [2, 0, 1]
        assert all(type(v) is int for v in out[field])


def test_assemble_submission_refuses_missing_or_misaligned_scores():
    test = pd.DataFrame({"key": ["a", "b"], "arch": ["x", "y"]})
    with pytest.raises(ValueError, match="missing"):
        assemble_submission(test, {"cplfw": np.zeros(2)})
    with pytest.raises(ValueError, match="3 scores for 2"):
        assemble_submission(test, {t: np.zeros(3) for t in TASKS})


def _staged_case(tmp_path):
    from tasks.files.reading import records_to_frame
    from tests.factories import some_archs, unlabelled_records

    test = records_to_frame(unlabelled_records(some_archs(5, seed=1)))
    scores = {t: np.arange(5.0)[::-1] for t in TASKS}
    out = tmp_path / "sub" / "submission.json"
    return test, assemble_submission(test, scores), out


def test_a_staged_submission_that_fails_its_check_leaves_nothing(tmp_path):
    from tasks.predict.submission import write_staged_submission

    test, frame, out = _staged_case(tmp_path)
    out.parent.mkdir()
    out.write_text("previous")

    def refuse(staged):
        assert staged.parent == out.parent and staged.read_bytes().startswith(b'{"arch1": ')
        raise ValueError("check failed")

    with pytest.raises(ValueError, match="check failed"):
        write_staged_submission(out, frame, refuse)
    assert out.read_text() == "previous"
    assert sorted(p.name for p in out.parent.iterdir()) == ["submission.json"]


def test_the_checked_bytes_are_the_bytes_put_in_place(tmp_path):
    import hashlib

    from tasks.files.writing import dump_competition_json, frame_to_records
    from tasks.predict.submission import commit_staged_submission, write_staged_submission
    from tasks.safety.ledger import written_by_project

    test, frame, out = _staged_case(tmp_path)
    checked = []
    staged = write_staged_submission(out, frame, lambda path: checked.append(path.read_bytes()))
    assert not out.exists()  # nothing replaced before the commit
    written = commit_staged_submission(staged)
    assert out.read_bytes() == checked[0] == dump_competition_json(frame_to_records(frame))
    assert written["sha256"] == hashlib.sha256(checked[0]).hexdigest()
    assert written_by_project(out)
    assert sorted(p.name for p in out.parent.iterdir()) == [".ufo-written.json", "submission.json"]


def test_a_stop_requested_while_staging_removes_the_staged_file(
    tmp_path, monkeypatch, stop_request
):
    from tasks.files import writing
    from tasks.predict.submission import write_staged_submission

    monkeypatch.setattr(writing, "_ROWS_PER_WRITE", 2)
    test, frame, out = _staged_case(tmp_path)
    out.parent.mkdir()
    out.write_text("previous")
    original, blocks = writing.competition_json_blocks, []

    def first_then_stop(frame):
        for block in original(frame):
            blocks.append(block)
            yield block
            stop_request()

    monkeypatch.setattr(writing, "competition_json_blocks", first_then_stop)
    checked = []
    with pytest.raises(cancellation.Cancelled):
        write_staged_submission(out, frame, checked.append)
    assert len(blocks) == 1 and checked == []  # stopped before the rest and the check
    assert out.read_text() == "previous"
    assert sorted(p.name for p in out.parent.iterdir()) == ["submission.json"]
