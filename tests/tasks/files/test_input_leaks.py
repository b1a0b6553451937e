"""A file that is not a competition file is refused without echoing its keys or values:
they would reach the console, the run logs and the validation artifact."""

import json

import pytest

from flows.cli import main
from tasks.errors import InputFileError
from tasks.files.reading import parse_competition_json

SECRET_KEY, SECRET_VALUE = "db_password_key", "hunter2-s3cret"


@pytest.mark.parametrize(
    "payload",
    [
        {SECRET_KEY: SECRET_VALUE},  # top-level values that are not objects
        {SECRET_KEY: {"user": "admin", "password": SECRET_VALUE}},  # objects, no arch
        {SECRET_KEY: {"nested": {"token": SECRET_VALUE}}, "x": [SECRET_VALUE]},
    ],
)
def test_a_file_that_is_not_a_competition_file_echoes_nothing(tmp_path, capsys, payload):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(payload))
    with pytest.raises(InputFileError) as raised:
        parse_competition_json(path.read_text(), str(path))
    message = str(raised.value)
    assert message.startswith(f"{path}: not a competition file: none of its")
    for kind in ("train", "test"):
        assert main(["validate", str(path), "--kind", kind]) == 2
        captured = capsys.readouterr()
        for leaked in (SECRET_KEY, SECRET_VALUE, "admin", "token", "password"):
            assert leaked not in captured.out + captured.err


def test_a_competition_file_with_a_bad_entry_still_names_it(tmp_path):
    text = json.dumps({"arch1": {"arch": "j" + "0" * 36}, "arch2": 5})
    with pytest.raises(InputFileError, match="'arch2'"):
        parse_competition_json(text, "f.json")
