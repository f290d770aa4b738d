"""Query API configuration from ``PERPWATCH_API_*`` environment variables.

Kafka and the database come from the shared ``Settings`` (``PERPWATCH_KAFKA_BOOTSTRAP``,
``PERPWATCH_DATABASE_URL``); only what is the API's own lives here.
"""

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.api.security import parse_api_keys

DEFAULT_WS_TOPICS = (
    "md.status.v1,book.bbo.v1,md.candles.v1,md.funding.v1,md.open_interest.v1,"
    "arb.opportunities.v1,liquidity.metrics.v1,liquidity.anomalies.v1,alerts.v1"
)


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERPWATCH_API_", extra="ignore", frozen=True)

    host: str = Field(default="0.0.0.0", description="Address the HTTP server binds.")
    port: int = Field(
        default=8000, ge=0, le=65535, description="Port of the REST/WebSocket API and dashboard."
    )
    cors_origins: str = Field(
        default="",
        description="Origins allowed by CORS, comma separated (`*` for any); empty: same origin only.",
    )
    keys: str = Field(
        default="",
        description=(
            "API keys, stored hashed: `sha256hex:scope[:name]` joined by commas, scope read or write "
            '(write implies read). Hash a key with `python -c "import hashlib,sys;'
            'print(hashlib.sha256(sys.argv[1].encode()).hexdigest())" KEY`.'
        ),
    )
    require_read_key: bool = Field(
        default=False,
        description="Reads need a read key too (default: reads are public, writes need a write key).",
    )
    rate_limit_per_ip: float = Field(
        default=20.0, gt=0, description="Sustained requests per second per client IP (token bucket)."
    )
    rate_limit_per_key: float = Field(
        default=50.0, gt=0, description="Sustained requests per second per API key (token bucket)."
    )
    rate_limit_burst_s: float = Field(
        default=5.0,
        gt=0,
        description="Bucket size in seconds of the sustained rate (a burst of rate * this).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1, description="Larger request bodies get 413 before anything is parsed."
    )
    max_page: int = Field(default=1000, ge=1, le=100_000, description="Largest `limit` of a page.")
    db_connections: int = Field(
        default=8, ge=1, description="Concurrent database queries; more requests wait for a free slot."
    )
    db_timeout_s: float = Field(default=10.0, gt=0, description="Statement timeout of one query.")
    ws_topics: str = Field(
        default=DEFAULT_WS_TOPICS, description="Kafka topics (logical names) the WebSocket can stream."
    )
    ws_queue: int = Field(
        default=1000,
        ge=1,
        description="Messages queued per WebSocket client; a slower client loses the oldest (drop counter).",
    )
    socket_send_buffer: int = Field(
        default=0,
        ge=0,
        description=(
            "SO_SNDBUF of client connections in bytes (0: the kernel's autotuning, up to tcp_wmem max). "
            "Small values bound what a stalled WebSocket client holds in the kernel."
        ),
    )
    ws_max_clients: int = Field(default=500, ge=1, description="WebSocket connections accepted at once.")
    status_history: int = Field(
        default=1000,
        ge=0,
        description="md.status.v1 records read back per partition at start, for /v1/exchanges connection state.",
    )

    @field_validator("keys")
    @classmethod
    def _well_formed(cls, value: str) -> str:
        parse_api_keys(value)
        return value

    def origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def topics(self) -> list[str]:
        return [topic.strip() for topic in self.ws_topics.split(",") if topic.strip()]
