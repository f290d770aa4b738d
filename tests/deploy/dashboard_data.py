"""The rows the dashboard SQL test runs against, as one SQL script.

Two sources, both inside one time window (``WINDOW``):

- a replay: the first ``REPLAY_SECONDS`` of venue time of a real Binance USD-M capture
  (../shared/data/hftbacktest/usdm/btcusdt_20240808.gz) is normalized the way ingest does it
  and goes through the real processors of ``REPLAYED_SERVICES`` (built from the service
  registry, as ``perpwatch run`` builds them; book-builder's ``book.l2.v1`` feeds liquidity);
  the rows they emit are what their sinks would write (book_bbo, book_depth, market_trades,
  liquidity_metrics, candles, analytics_large_trades, analytics_flow_windows, ...);
- tests/deploy/dashboard_seed.sql: hand-written rows for what one venue's two minutes cannot
  produce (a second venue, funding, open interest, liquidations, arbitrage, a liquidity
  crunch, spikes, alerts, matching-venue orders).
"""

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from schemas.topics import TOPICS_BY_NAME
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import normalize_frame, open_capture
from services.ingest.topics import topic_for
from services.registry import build_processor
from services.runtime.codec import event_key
from services.runtime.service import Output, RejectedInput
from services.runtime.sink import Row, Table

CAPTURE = Path("hftbacktest") / "usdm" / "btcusdt_20240808.gz"
SEED_SQL = Path(__file__).with_name("dashboard_seed.sql")
REPLAY_SECONDS = 120
# The capture starts 2024-08-08 23:54:16 UTC; dashboard_seed.sql's rows lie in the same window.
WINDOW = ("2024-08-08T23:50:00Z", "2024-08-09T00:10:00Z")
# What the replayed rows hold (the seed adds other exchanges for the cross-venue panels).
REPLAY_EXCHANGE = "binance_usdm"
REPLAY_SYMBOL = "BTC-USDT-PERP"
# In pipeline order: book-builder's book.l2.v1 feeds liquidity.
REPLAYED_SERVICES = ("book-builder", "market-recorder", "liquidity", "analytics")
# Records per end_batch call, as `perpwatch analyze` does.
BATCH_RECORDS = 2000

# Inputs the processors rejected (to the dead-letter topic, at run time), by service, topic and
# error type: printed by the test when a table stays empty.
REJECTED: Counter[str] = Counter()

Envelope = tuple[str, bytes, bytes]
"""topic, key, value as the runtime would consume them."""


def literal(value: Any) -> str:
    """A SQL literal PostgreSQL coerces to the column's type on INSERT."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, datetime):
        return f"'{value.isoformat()}'"
    if isinstance(value, int | float | Decimal):
        return f"'{value}'"
    if isinstance(value, list | tuple):
        return "'{" + ",".join(str(v) for v in value) + "}'"
    if isinstance(value, dict):
        value = orjson.dumps(value).decode()
    return "'" + str(value).replace("'", "''") + "'"


def insert_statements(table: Table, rows: Sequence[Row], batch: int = 500) -> Iterable[str]:
    columns = ", ".join(table.columns)
    for start in range(0, len(rows), batch):
        values = ",\n".join(
            "(" + ", ".join(literal(v) for v in row) + ")" for row in rows[start : start + batch]
        )
        yield f"INSERT INTO {table.name} ({columns}) VALUES\n{values}\nON CONFLICT DO NOTHING;"


class Stage:
    """One processor fed the way the runtime feeds it: decode, handle, end_batch per batch."""

    def __init__(self, name: str) -> None:
        self.processor = build_processor(name)
        custom = getattr(self.processor, "decoders", None) or {}
        self.decode = {
            topic: custom.get(topic, TOPICS_BY_NAME[topic].payload.validate_json)
            for topic in self.processor.inputs
        }
        self.out = Output(service=self.processor.service)
        self.offsets: dict[str, int] = {}
        self.pending = 0
        self.published = 0

    def feed(self, topic: str, key: bytes, raw: bytes) -> list[Envelope]:
        """Handle one record; return what the processor published meanwhile."""
        if topic not in self.decode:
            return []
        offset = self.offsets.get(topic, 0)
        self.offsets[topic] = offset + 1
        record = ConsumerRecord(topic, 0, offset, 0, 0, key, raw, None, len(key), len(raw), ())
        try:
            self.processor.handle(record, self.decode[topic](raw), self.out)
        except RejectedInput as exc:
            REJECTED[f"{self.processor.service} {topic} {exc.error_type}"] += 1
        except ValidationError:
            REJECTED[f"{self.processor.service} {topic} validation_error"] += 1
        self.pending += 1
        if self.pending >= BATCH_RECORDS:
            return self.end_batch()
        return self.take_published()

    def end_batch(self) -> list[Envelope]:
        end_batch = getattr(self.processor, "end_batch", None)
        if end_batch is not None:
            end_batch(self.out)
        self.pending = 0
        return self.take_published()

    def take_published(self) -> list[Envelope]:
        events = self.out.events[self.published :]
        self.published = len(self.out.events)
        return [
            (topic, (event_key(event) or "").encode(), event.model_dump_json().encode())
            for topic, event in events
            if not topic.startswith("_")
        ]


def run_stages(stages: list[Stage], envelopes: list[Envelope], first: int = 0) -> None:
    """Feed envelopes through the stages in order; what a stage publishes reaches the later ones."""
    for index in range(first, len(stages)):
        produced: list[Envelope] = []
        for topic, key, raw in envelopes:
            produced.extend(stages[index].feed(topic, key, raw))
        envelopes = envelopes + produced


def replayed_rows(capture: Path, seconds: int = REPLAY_SECONDS) -> dict[Table, list[Row]]:
    """Rows of the registry's processors over the capture's first seconds of venue time."""
    stages = [Stage(name) for name in REPLAYED_SERVICES]
    opened = open_capture(capture)
    first_ts: int | None = None
    for frame in opened.frames:
        try:
            events = normalize_frame(opened.adapter, frame) or ()
        except FrameRejected:
            continue
        if events and first_ts is None:
            first_ts = events[0].exchange_ts
        if events and first_ts is not None and events[0].exchange_ts - first_ts > seconds * 1_000_000_000:
            break
        run_stages(stages, [(topic_for(e), e.key.encode(), e.model_dump_json().encode()) for e in events])
    for index, stage in enumerate(stages):
        run_stages(stages, stage.end_batch(), first=index + 1)
    rows: dict[Table, list[Row]] = {}
    for stage in stages:
        for table, table_rows in stage.out.rows.items():
            rows.setdefault(table, []).extend(table_rows)
    return rows


def seed_script(shared_data: Path) -> tuple[str, dict[str, int]]:
    """The whole SQL script, and the number of replayed rows per table."""
    rows = replayed_rows(shared_data / CAPTURE)
    statements = [s for table, table_rows in rows.items() for s in insert_statements(table, table_rows)]
    counts = {table.name: len(table_rows) for table, table_rows in rows.items()}
    return "\n".join([*statements, SEED_SQL.read_text()]), counts
