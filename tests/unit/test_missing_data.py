"""Missing real data skips on a laptop but fails under CI=true (green must mean the data was read)."""

import pytest

from tests.conftest import missing_data


def test_missing_data_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        missing_data("no captures")


def test_missing_data_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run with the real captures"):
        missing_data("no captures")
