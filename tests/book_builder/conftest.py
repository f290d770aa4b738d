"""Fixtures of the book-builder tests: where the real captures are."""

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cryptofeed_dir(shared_data: Path) -> Path:
    path = shared_data / "cryptofeed"
    if not path.is_dir():
        pytest.skip(f"cryptofeed samples not found at {path}")
    return path
