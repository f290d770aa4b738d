"""The README documents the configuration the code actually reads."""

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from services.alert.delivery import DeliverySettings
from services.alert.rules_api import RulesApiSettings
from services.alert.service import AlertSettings
from services.analytics.service import AnalyticsSettings
from services.api.settings import ApiSettings
from services.arbitrage.service import ArbitrageSettings
from services.liquidity.service import LiquiditySettings
from services.matching.gateway.settings import GatewaySettings
from services.matching.service import MatchingSettings
from services.runtime.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
# Read by the local-stack script, the test fixtures or the path helpers rather than Settings.
NOT_SETTINGS = {"PERPWATCH_DATA_DIR", "PERPWATCH_STATE_DIR"}


SETTINGS_CLASSES: list[type[BaseSettings]] = [
    Settings,
    MatchingSettings,
    GatewaySettings,
    ArbitrageSettings,
    LiquiditySettings,
    AnalyticsSettings,
    AlertSettings,
    DeliverySettings,
    RulesApiSettings,
    ApiSettings,
]


def _variables(settings_class: type[BaseSettings]) -> dict[str, object]:
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return {f"{prefix}{name.upper()}": field for name, field in settings_class.model_fields.items()}


def test_every_setting_is_in_the_readme_table() -> None:
    for variable, field in (item for cls in SETTINGS_CLASSES for item in _variables(cls).items()):
        assert f"| `{variable}` |" in README, f"{variable} is missing from the README configuration table"
        assert getattr(field, "description", None), f"{variable} needs a description"


def test_the_readme_table_lists_no_setting_the_code_does_not_read() -> None:
    documented = set(re.findall(r"^\| `(PERPWATCH_[A-Z_]+)` \|", README, flags=re.MULTILINE))
    known = {variable for cls in SETTINGS_CLASSES for variable in _variables(cls)} | NOT_SETTINGS
    assert documented <= known, f"documented but not read: {sorted(documented - known)}"


def test_the_readme_shows_the_two_setup_commands() -> None:
    assert "make up" in README
    assert "make test" in README
