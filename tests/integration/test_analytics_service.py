"""The analytics service on the real broker and database, killed with SIGKILL mid-stream.

The real trades of the Binance capture go to ``md.trades.v1``; the service process
(``perpwatch run analytics``)
is killed with SIGKILL after a few batches, restarted, and fed the rest. Then the candles on ``md.candles.v1`` must equal the ``candles`` rows, once each, and both
must equal what an uninterrupted offline run of the same processor produces.
"""

import asyncio
import importlib.util
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from aiokafka import AIOKafkaProducer

from schemas.market_data import Candle, Trade
from services.analytics.core.engine import EngineConfig
from services.analytics.service import AnalyticsProcessor
from services.runtime.service import Output
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.analytics.conftest import trades_of
from tests.book_builder.streams import committed_offset, wait_for
from tests.integration.helpers import read_topic, start_service_process, wait_until_consumed, wait_until_ready

GROUP_SUFFIX = "analytics"


def service_command() -> list[str]:
    return ["services.cli", "run", "analytics"]


ENV = {"PERPWATCH_ANALYTICS_CHECKPOINT_EVERY": "2000", "PERPWATCH_ANALYTICS_GRACE_MS": "2000"}


async def produce(settings: Settings, trades: list[Trade]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True, linger_ms=5
    )
    await producer.start()
    try:
        topic = settings.topic_name("md.trades.v1")
        for start in range(0, len(trades), 1000):
            batch = [
                await producer.send(topic, t.model_dump_json().encode(), key=t.key.encode())
                for t in trades[start : start + 1000]
            ]
            await asyncio.gather(*batch)
            await asyncio.sleep(0.05)
    finally:
        await producer.stop()


def reference(trades: list[Trade]) -> list[Candle]:
    processor = AnalyticsProcessor(EngineConfig(grace_ms=2000))
    out = Output()

    class Record:
        topic, partition, key, value = "md.trades.v1", 0, b"", b""

        def __init__(self, offset: int) -> None:
            self.offset = offset

    for offset, trade in enumerate(trades):
        processor.handle(Record(offset), trade, out)
    return [e for _, e in out.events if isinstance(e, Candle)]


def candle_key(c: Candle) -> tuple[Any, ...]:
    return (c.exchange.value, c.symbol, c.interval_s, c.exchange_ts // 1000)


def candle_values(c: Candle) -> tuple[Any, ...]:
    return (c.open, c.high, c.low, c.close, c.volume, c.notional, c.trade_count, c.buy_volume, c.sell_volume)


async def test_candles_on_the_topic_equal_the_rows_after_a_kill_and_restart(
    settings: Settings, binance_capture: Path, tmp_path: Path
) -> None:
    trades = trades_of(binance_capture)
    expected = reference(trades)
    group = f"{settings.consumer_group_prefix}.{GROUP_SUFFIX}"
    log_path = tmp_path / "analytics.log"
    await ensure_topics(settings)
    head, tail = trades[:9000], trades[9000:]

    first, port = start_service_process(service_command(), settings, log_path, ENV)
    try:
        await wait_until_ready(first, port, log_path)
        await produce(settings, head)

        async def some_committed() -> bool:
            return await committed_offset(settings, group, "md.trades.v1") >= 4500

        await wait_for("a few committed batches", some_committed)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = await committed_offset(settings, group, "md.trades.v1")
    assert killed_at < len(trades)

    second, port = start_service_process(service_command(), settings, log_path, ENV)
    try:
        await wait_until_ready(second, port, log_path)
        await produce(settings, tail)
        await wait_until_consumed(settings, group, "md.trades.v1", timeout_s=180)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)

    on_topic = [e for _, e in await read_topic(settings, "md.candles.v1")]
    assert all(isinstance(c, Candle) for c in on_topic)
    keys = [candle_key(c) for c in on_topic]
    assert len(keys) == len(set(keys)), "duplicate candles on md.candles.v1"

    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute(
            "SELECT exchange, symbol, interval_s, (extract(epoch from ts) * 1000000)::bigint, open, high, low,"
            " close, volume, notional, trade_count, buy_volume, sell_volume FROM candles"
        ).fetchall()
        restored = conn.execute("SELECT count(*) FROM analytics_checkpoints").fetchone()
    in_database = {
        tuple(r[:4]): tuple(Decimal(v) if isinstance(v, Decimal) else v for v in r[4:]) for r in rows
    }
    assert len(in_database) == len(rows), "duplicate candle rows"
    assert in_database == {candle_key(c): candle_values(c) for c in on_topic}
    assert {candle_key(c): candle_values(c) for c in on_topic} == {
        candle_key(c): candle_values(c) for c in expected
    }
    assert {c.interval_s for c in on_topic} == {1, 60, 300}
    assert restored is not None
    assert restored[0] >= 1
    print(f"killed at committed offset {killed_at}; {len(on_topic)} candles, {len(rows)} rows")


def test_export_round_trips_candles_and_pairs_through_csv_and_parquet(
    migrated_database_url: str, binance_capture: Path, tmp_path: Path
) -> None:
    from datetime import UTC, datetime

    from schemas.common import ExchangeId
    from services.analytics.core.engine import PairConfig
    from services.analytics.export import Format, export_table, read_back, table_columns

    leg = (ExchangeId.BINANCE_USDM, "BTC-USDT-PERP")
    config = EngineConfig(
        pairs=(PairConfig("btc-self", leg, leg, interval_s=1, window=30, min_observations=5),)
    )
    processor = AnalyticsProcessor(config)
    out = Output()

    class Record:
        topic, partition, key, value = "md.trades.v1", 0, b"", b""

        def __init__(self, offset: int) -> None:
            self.offset = offset

    for offset, trade in enumerate(trades_of(binance_capture)):
        processor.handle(Record(offset), trade, out)
    with psycopg.connect(migrated_database_url) as conn:
        for target, rows in out.rows.items():
            placeholders = ", ".join(["%s"] * len(target.columns))
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {target.name} ({', '.join(target.columns)}) VALUES ({placeholders})", rows
                )
        conn.commit()

    start, end = datetime(2024, 8, 8, tzinfo=UTC), datetime(2024, 8, 10, tzinfo=UTC)
    progress: list[tuple[int, int]] = []
    # Parquet needs pyarrow (an optional dependency): without it only CSV is checked.
    formats: tuple[Format, ...] = ("csv", "parquet") if importlib.util.find_spec("pyarrow") else ("csv",)
    for table, where, params, filters in (
        ("candles", "", (), {}),
        (
            "candles",
            " AND symbol = %s AND exchange = %s",
            ("BTC-USDT-PERP", "binance_usdm"),
            {"symbol": "BTC-USDT-PERP", "exchange": "binance_usdm"},
        ),
        (
            "pairs",
            " AND (symbol_a = %s OR symbol_b = %s)",
            ("BTC-USDT-PERP", "BTC-USDT-PERP"),
            {"symbol": "BTC-USDT-PERP"},
        ),
        ("large_trades", "", (), {}),
    ):
        for fmt in formats:
            path = tmp_path / f"{table}.{fmt}"
            result = export_table(
                migrated_database_url,
                table,
                start=start,
                end=end,
                out=path,
                fmt=fmt,
                progress=lambda done, total: progress.append((done, total)),
                **filters,
            )
            with psycopg.connect(migrated_database_url) as conn:
                columns = table_columns(conn, result.table)
                names = ", ".join(c.name for c in columns)
                expected = conn.execute(
                    f"SELECT {names} FROM {result.table} WHERE ts >= %s AND ts < %s{where}",
                    (start, end, *params),
                ).fetchall()
            assert result.rows == len(expected) > 0
            got = read_back(path, columns, fmt)
            assert sorted(got, key=repr) == sorted(expected, key=repr)
    assert progress[-1][0] == progress[-1][1]

    # A narrower range exports only its rows.
    first = datetime.fromtimestamp(1723161300, tz=UTC)
    narrow = export_table(
        migrated_database_url,
        "candles",
        start=first,
        end=datetime.fromtimestamp(1723161360, tz=UTC),
        out=tmp_path / "n.csv",
    )
    # Sixty 1 s bars and one 1 m bar; the 5 m bar starting there is still open when the capture ends.
    assert narrow.rows == 60 + 1
