"""Flow-run names that say what ran: predictor and a short hash of the inputs."""

from __future__ import annotations

import hashlib
from pathlib import Path

from tasks.parameters import default_paths


def short_input_hash(train: str | Path | None, test: str | Path | None) -> str:
    """First 8 hex digits of sha256 over both input files ("missing" if one is absent)."""
    train, test, _ = default_paths(train, test, None)
    digest = hashlib.sha256()
    for path in (Path(train), Path(test)):
        if not path.is_file():
            return "missing"
        digest.update(path.read_bytes())
    return digest.hexdigest()[:8]
