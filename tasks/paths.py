"""Where files live. Every default location in the project comes from here."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Project data folder; UFO_DATA_DIR moves it (tests point it at a temp folder)."""
    return Path(os.environ.get("UFO_DATA_DIR", PROJECT_ROOT / "data"))


def raw_dir() -> Path:
    """Where a user puts the real competition files (git-ignored)."""
    return data_dir() / "raw"


def demo_dir() -> Path:
    return data_dir() / "demo"


def cache_dir() -> Path:
    """Parquet encodings, keyed by content hash + encoding name + version."""
    return data_dir() / "cache"


def submissions_dir() -> Path:
    return data_dir() / "submissions"


def search_dir() -> Path:
    """Default folder of `ufo search` reports (picks, front, plot)."""
    return data_dir() / "search"


def results_dir() -> Path:
    """Prefect task results (persisted so failed runs can be retried cheaply)."""
    return Path(os.environ.get("UFO_RESULTS_DIR", data_dir() / "prefect-results"))


def demo_train_path() -> Path:
    return demo_dir() / "demo_train.json"


def demo_test_path() -> Path:
    return demo_dir() / "demo_test.json"


def demo_submission_path() -> Path:
    return submissions_dir() / "demo_submission.json"


def competition_train_path() -> Path:
    return raw_dir() / "CCF_UFO_train.json"


def competition_test_path() -> Path:
    return raw_dir() / "CCF_UFO_test.json"


def competition_submission_path() -> Path:
    return submissions_dir() / "CCF_UFO_submit.json"


def shared_train_path() -> Path:
    """The real training file as laid out beside the project (tests, CI, benchmarks)."""
    return PROJECT_ROOT.parent / "shared" / "data" / "CCF_UFO_train.json"
