"""Gateway configuration from ``PERPWATCH_GATEWAY_*`` environment variables."""

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MAX_ACCOUNT_LENGTH = 64


def parse_api_keys(text: str) -> dict[str, str]:
    """``key:account,key:account`` -> {key: account}. Raises ValueError on a malformed entry."""
    accounts: dict[str, str] = {}
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        key, separator, account = entry.partition(":")
        key, account = key.strip(), account.strip()
        if not separator or not key or not account:
            raise ValueError(f"api key entry {entry!r} is not key:account")
        if len(account) > MAX_ACCOUNT_LENGTH:
            raise ValueError(f"account of an api key is longer than {MAX_ACCOUNT_LENGTH} characters")
        if key in accounts:
            raise ValueError("an api key is listed twice")
        accounts[key] = account
    return accounts


class GatewaySettings(BaseSettings):
    """Order-entry gateway knobs; the Kafka and database settings are the shared ``Settings``."""

    model_config = SettingsConfigDict(env_prefix="PERPWATCH_GATEWAY_", extra="ignore", frozen=True)

    api_keys: str = Field(
        default="",
        description="API keys and their accounts, `key:account,key:account`; empty: no order entry.",
    )
    host: str = Field(default="0.0.0.0", description="Address the REST/WebSocket server binds.")
    port: int = Field(default=8080, ge=0, le=65535, description="Port of the REST/WebSocket server.")
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body; a larger one gets 413 unread."
    )
    rate_limit_per_s: float = Field(
        default=50.0,
        gt=0,
        description="Order-entry requests a second per API key (four times this per client address).",
    )
    rate_limit_burst: int = Field(
        default=100, ge=1, description="Requests an API key may send at once before the rate applies."
    )
    ws_buffer: int = Field(
        default=10_000,
        ge=1,
        description="Messages queued per WebSocket client; a client that falls further behind is closed.",
    )

    @field_validator("api_keys")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    def accounts_by_key(self) -> dict[str, str]:
        return parse_api_keys(self.api_keys)
