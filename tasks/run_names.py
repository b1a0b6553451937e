"""Flow-run names that say what ran: predictor and a short hash of the inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tasks import paths
from tasks.parameters import default_paths


def short_files_hash(*files: str | Path) -> str:
    """First 8 hex digits of sha256 over the files, in order ("missing" if one is absent)."""
    digest = hashlib.sha256()
    for path in map(Path, files):
        if not path.is_file():
            return "missing"
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]


def short_input_hash(train: str | Path | None, test: str | Path | None) -> str:
    """The pipeline's inputs (unset paths are the demo files)."""
    train, test, _ = default_paths(train, test, None)
    return short_files_hash(train, test)


def short_train_hash(train: str | Path | None) -> str:
    """The search's input (unset is the demo training file)."""
    return short_files_hash(train or paths.demo_train_path())
