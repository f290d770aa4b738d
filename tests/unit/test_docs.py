"""The README documents the configuration the code actually reads."""

import re
from pathlib import Path

from services.runtime.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
# Read by the local-stack script, the test fixtures or the path helpers rather than Settings.
NOT_SETTINGS = {"PERPWATCH_DATA_DIR", "PERPWATCH_STATE_DIR"}


def test_every_setting_is_in_the_readme_table() -> None:
    for name, field in Settings.model_fields.items():
        variable = f"PERPWATCH_{name.upper()}"
        assert f"| `{variable}` |" in README, f"{variable} is missing from the README configuration table"
        assert field.description, f"{name} needs a description"


def test_the_readme_table_lists_no_setting_the_code_does_not_read() -> None:
    documented = set(re.findall(r"^\| `(PERPWATCH_[A-Z_]+)` \|", README, flags=re.MULTILINE))
    known = {f"PERPWATCH_{name.upper()}" for name in Settings.model_fields} | NOT_SETTINGS
    assert documented <= known, f"documented but not read: {sorted(documented - known)}"


def test_the_readme_shows_the_two_setup_commands() -> None:
    assert "make up" in README
    assert "make test" in README
