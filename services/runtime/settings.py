"""Configuration from ``PERPWATCH_*`` environment variables, with defaults for the local stack.

The defaults match ``deploy/local/stack.sh``, so ``make up`` needs no configuration at all.
"""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PERPWATCH_", extra="ignore", frozen=True)

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092", description="Kafka bootstrap servers, comma separated."
    )
    database_url: str = Field(
        default="postgresql://perpwatch:perpwatch@127.0.0.1:15432/perpwatch",
        description="PostgreSQL/TimescaleDB connection URL.",
    )
    metrics_port: int = Field(
        default=9100,
        ge=0,
        le=65535,
        description="Port of /metrics, /healthz and /readyz (0 picks a free port).",
    )
    log_level: str = Field(default="INFO", description="Python log level.")
    log_format: Literal["json", "console"] = Field(default="json", description="json or console.")
    topic_partitions: int = Field(default=6, ge=1, description="Partitions of topics created at start.")
    topic_replication: int = Field(default=1, ge=1, description="Replication factor of created topics.")
    producer_linger_ms: int = Field(default=5, ge=0, description="Producer batching delay.")
    producer_compression: Literal["lz4", "zstd", "gzip", "none"] = Field(
        default="zstd",
        description=(
            "Producer compression codec. zstd (level 3) compresses our JSON several times better than"
            " lz4, which aiokafka runs at level 9, and costs less CPU (benchmarks/matching_service.py)."
        ),
    )
    topic_namespace: str = Field(
        default="",
        description="Prefix for every topic name (e.g. 'staging.'): isolates environments sharing a cluster.",
    )
    instance_id: str = Field(
        default="",
        description=(
            "This replica's stable name; with the consumer group it forms the Kafka transactional id, "
            "so a restarted replica fences its predecessor. Empty: the host name (the pod name on Kubernetes)."
        ),
    )
    stream_transactions: bool = Field(
        default=True,
        description=(
            "Publish outputs and commit offsets in one Kafka transaction (no duplicate on a topic after a "
            "retried batch). Off: confirmed delivery and at-least-once topics, for consumers that dedupe by key."
        ),
    )
    consumer_group_prefix: str = Field(
        default="perpwatch", description="Consumer groups are named <prefix>.<service>."
    )
    ingest_feeds: str = Field(
        default="binance_usdm:BTCUSDT,ETHUSDT",
        description="Feeds of `perpwatch run ingest`: exchange:SYMBOL,SYMBOL[:channel,...] joined by ';'.",
    )
    ingest_endpoints: str = Field(
        default="",
        description="Venue URL overrides: a JSON file or string as written by `perpwatch simulate --endpoints-out`.",
    )
    instrument_cache_dir: str = Field(
        default=".state/instruments",
        description="Where ingestors keep instrument metadata refreshed from the venues (fallback: the committed snapshot).",
    )
    sink_batch_rows: int = Field(
        default=5000, ge=1, description="Rows per table per database transaction (a batch's rows share one)."
    )
    sink_max_backoff_s: float = Field(
        default=30.0, gt=0, description="Cap of the retry delay while the database is down."
    )
    book_depth: int = Field(
        default=50, ge=1, le=1000, description="Levels per side in book.l2.v1 and book_depth rows."
    )

    def topic_name(self, logical_name: str) -> str:
        """The broker-side name of a registry topic."""
        return f"{self.topic_namespace}{logical_name}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
