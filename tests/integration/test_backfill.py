"""Backfill against the simulator's history endpoints, into a real PostgreSQL.

Each test gets its own migrated database (``migrated_database_url``) and its own simulator; the
backfill goes through the real REST client, rate limiter and Retry-After handling.
"""

import asyncio
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import psycopg
import pytest

from schemas.common import ExchangeId
from schemas.market_data import Candle
from services.analytics.core.engine import OpenInterestStream, TradeStream
from services.analytics.service import CANDLES, build_processor, output_row
from services.backfill.core.plan import NS_PER_S, What, Window
from services.backfill.runner import TaskResult, run_backfill
from services.cli.reconcile import reconcile
from services.runtime.settings import Settings
from services.runtime.sink import TimescaleSink
from services.simulator.model import Fault, FaultKind
from services.simulator.server import Simulator, SimulatorConfig
from tests.integration.helpers import REPO_ROOT

VENUES = (ExchangeId.BINANCE_USDM, ExchangeId.BINANCE_COINM, ExchangeId.BYBIT, ExchangeId.HYPERLIQUID)
MINUTE = 60 * NS_PER_S
BTC = {
    ExchangeId.BINANCE_USDM: "BTCUSDT",
    ExchangeId.BINANCE_COINM: "BTCUSD_PERP",
    ExchangeId.BYBIT: "BTCUSDT",
    ExchangeId.HYPERLIQUID: "BTC",
}


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorConfig(venues=VENUES, duration_s=None, seed=7)) as sim:
        yield sim


def _minutes_window(minutes: int) -> Window:
    """The last ``minutes`` whole minutes, closed now."""
    now = time.time_ns() // MINUTE * MINUTE
    return Window(now - minutes * MINUTE, now)


def _rows(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query.encode(), params).fetchall()


@pytest.mark.parametrize(
    ("exchange", "page"),
    [(ExchangeId.BINANCE_USDM, 1500), (ExchangeId.BINANCE_COINM, 1500), (ExchangeId.BYBIT, 1000)],
)
async def test_pagination_across_page_boundaries(
    simulator: Simulator, migrated_database_url: str, exchange: ExchangeId, page: int
) -> None:
    # 2.5 pages of 1-minute bars: every bar exactly once, contiguous, across both cuts.
    minutes = page * 5 // 2
    window = _minutes_window(minutes)
    summary = await run_backfill(
        migrated_database_url,
        exchange,
        [BTC[exchange]],
        window,
        [What.KLINES],
        rest_url=simulator.endpoints(exchange).rest_url,
    )
    [task] = summary.tasks
    assert (task.status, task.pages, task.records, task.inserted) == ("ok", 3, minutes, minutes)
    opens = [
        row[0]
        for row in _rows(
            migrated_database_url,
            "SELECT ts FROM candles WHERE exchange = %s AND source = 'venue' ORDER BY ts",
            exchange.value,
        )
    ]
    assert len(opens) == minutes == len(set(opens))
    assert all((b - a).total_seconds() == 60 for a, b in itertools.pairwise(opens))
    # The simulator answers with the venue's own page cap: a bigger limit is refused.
    history_requests = [r for r in simulator.stats.rest_log if "kline" in r[2]]
    assert len(history_requests) == 3
    assert all(r[3] == 200 for r in history_requests)


async def test_a_429_in_the_middle_then_the_rest(simulator: Simulator, migrated_database_url: str) -> None:
    exchange = ExchangeId.BINANCE_USDM
    injected: list[int] = []

    def after_page(task: TaskResult) -> None:
        if task.pages == 1 and not injected:  # right after the first page: two 429s with Retry-After
            simulator.inject(Fault(FaultKind.REST_RATE_LIMIT, venue=exchange, magnitude=0.3, count=2))
            injected.append(1)

    started = time.monotonic()
    summary = await run_backfill(
        migrated_database_url,
        exchange,
        ["BTC-USDT-PERP"],
        _minutes_window(4000),
        [What.KLINES],
        rest_url=simulator.endpoints(exchange).rest_url,
        on_progress=after_page,
    )
    [task] = summary.tasks
    assert task.status == "ok"
    assert task.pages == 3
    assert task.inserted == 4000
    assert summary.rate_limited == 2
    statuses = [r[3] for r in simulator.stats.rest_log]
    assert statuses == [200, 429, 429, 200, 200]
    # Retry-After was honoured: the bucket paused at least 0.3 s per 429.
    assert time.monotonic() - started >= 0.6


async def test_a_venue_without_oi_history_is_reported_not_failed(
    simulator: Simulator, migrated_database_url: str
) -> None:
    summary = await run_backfill(
        migrated_database_url,
        ExchangeId.HYPERLIQUID,
        ["BTC"],
        _minutes_window(180),
        rest_url=simulator.endpoints(ExchangeId.HYPERLIQUID).rest_url,
    )
    by_what = {t.what: t for t in summary.tasks}
    assert by_what["oi"].status == "not_offered"
    assert "current open interest" in by_what["oi"].reason
    assert by_what["klines"].status == "ok"
    assert by_what["klines"].inserted == 180
    assert by_what["funding"].status == "ok"
    assert by_what["funding"].inserted >= 2
    assert summary.as_json()["errors"] == 0


async def test_a_contract_kind_the_module_does_not_read_is_reported_before_any_request(
    migrated_database_url: str,
) -> None:
    """Phemex's module reads hedged USDT contracts; the simulator's ETH stands in as the legacy
    ETHUSD (as in ``make up``). Its tasks end ``not_covered`` with the reason, not as failed pages."""
    config = SimulatorConfig(venues=[ExchangeId.PHEMEX], duration_s=None, seed=7)
    async with Simulator(config) as phemex:
        summary = await run_backfill(
            migrated_database_url,
            ExchangeId.PHEMEX,
            ["BTCUSDT", "ETHUSD"],
            _minutes_window(30),
            whats=(What.KLINES, What.FUNDING),
            rest_url=phemex.endpoints(ExchangeId.PHEMEX).rest_url,
        )
    statuses = {(t.symbol, t.what): t.status for t in summary.tasks}
    assert statuses == {
        ("BTC-USDT-PERP", "klines"): "ok",
        ("BTC-USDT-PERP", "funding"): "ok",
        ("ETH-USD-PERP", "klines"): "not_covered",
        ("ETH-USD-PERP", "funding"): "not_covered",
    }
    assert all("legacy (Ep-scaled)" in t.reason for t in summary.tasks if t.status == "not_covered")
    assert summary.as_json()["errors"] == 0
    # Every request was one of BTCUSDT's pages: none was made for ETHUSD.
    assert summary.requests == sum(t.pages for t in summary.tasks if t.symbol == "BTC-USDT-PERP") > 0


async def test_no_duplicate_rows_with_live_data_arriving_at_the_same_time(
    simulator: Simulator, migrated_database_url: str
) -> None:
    """A live writer (the analytics sink's table and row function) writes bars of the same keys
    while the backfill runs: every key ends with exactly one row and nothing fails."""
    exchange = ExchangeId.BYBIT
    window = _minutes_window(3000)
    sink = TimescaleSink(migrated_database_url)
    live_keys = list(range(window.start_ns, window.end_ns, 7 * MINUTE))

    async def live_writer() -> int:
        written = 0
        for start in live_keys:
            candle = Candle(
                exchange=exchange,
                symbol="BTC-USDT-PERP",
                native_symbol="BTCUSDT",
                exchange_ts=start,
                receive_ts=start + MINUTE,
                interval_s=60,
                close_ts=start + MINUTE - 1,
                open=Decimal(1),
                high=Decimal(1),
                low=Decimal(1),
                close=Decimal(1),
                volume=Decimal(1),
                notional=Decimal(1),
                trade_count=1,
                closed=True,
            )
            result = await sink.write(CANDLES, [output_row(candle)[1]])
            written += result.inserted
            await asyncio.sleep(0)
        return written

    try:
        live_inserted, summary = await asyncio.gather(
            live_writer(),
            run_backfill(
                migrated_database_url,
                exchange,
                ["BTC-USDT-PERP"],
                window,
                [What.KLINES],
                rest_url=simulator.endpoints(exchange).rest_url,
            ),
        )
    finally:
        await sink.close()
    [task] = summary.tasks
    assert task.status == "ok"
    assert task.records == 3000
    # Both writers together inserted each key once; the other attempts were no-ops.
    assert live_inserted + task.inserted == 3000
    counts = _rows(
        migrated_database_url,
        "SELECT count(*), count(DISTINCT ts), count(*) FILTER (WHERE source = 'trades') FROM candles",
    )[0]
    assert counts[0] == counts[1] == 3000
    assert counts[2] == live_inserted


async def test_resume_after_kill_9(simulator: Simulator, migrated_database_url: str) -> None:
    """``perpwatch backfill`` killed with SIGKILL in the middle; the rerun fetches only the rest."""
    exchange = ExchangeId.BYBIT
    window = _minutes_window(5000)  # five pages of 1000 bars
    served: list[int] = []
    original = simulator._history_reply

    def counting(venue: Any, request: Any) -> Any:
        reply = original(venue, request)
        if reply is not None:
            served.append(reply.status)
            if len(served) == 2:  # after two pages: the next answer is a 429 with a long Retry-After
                simulator.inject(Fault(FaultKind.REST_RATE_LIMIT, venue=exchange, magnitude=120, count=1))
        return reply

    simulator._history_reply = counting  # type: ignore[method-assign]
    env = {**os.environ, "PERPWATCH_DATABASE_URL": migrated_database_url, "PERPWATCH_LOG_FORMAT": "console"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "backfill",
        "--exchange",
        exchange.value,
        "--symbols",
        "BTCUSDT",
        "--what",
        "klines",
        "--from",
        str(window.start_ns // 1_000_000),
        "--to",
        str(window.end_ns // 1_000_000),
        "--rest-url",
        simulator.endpoints(exchange).rest_url,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not any(status == 429 for *_, status in simulator.stats.rest_log):
        assert process.returncode is None, "the backfill ended before it was rate limited"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    assert await process.wait() == -signal.SIGKILL
    committed = _rows(
        migrated_database_url, "SELECT count(*), coalesce(sum(records), 0) FROM backfill_coverage"
    )[0]
    assert committed == (2, 2000)
    assert _rows(migrated_database_url, "SELECT count(*) FROM candles")[0][0] == 2000

    simulator._history_reply = original  # type: ignore[method-assign]
    summary = await run_backfill(
        migrated_database_url,
        exchange,
        ["BTCUSDT"],
        window,
        [What.KLINES],
        rest_url=simulator.endpoints(exchange).rest_url,
    )
    [task] = summary.tasks
    assert (task.pages_planned, task.pages, task.inserted) == (3, 3, 3000)
    assert _rows(migrated_database_url, "SELECT count(*), count(DISTINCT ts) FROM candles")[0] == (5000, 5000)
    again = await run_backfill(
        migrated_database_url,
        exchange,
        ["BTCUSDT"],
        window,
        [What.KLINES],
        rest_url=simulator.endpoints(exchange).rest_url,
    )
    assert again.tasks[0].status == "up_to_date"
    assert again.requests == 0


async def test_cli_ends_with_one_summary_line(simulator: Simulator, migrated_database_url: str) -> None:
    env = {**os.environ, "PERPWATCH_DATABASE_URL": migrated_database_url, "PERPWATCH_LOG_FORMAT": "console"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "backfill",
        "--exchange",
        "hyperliquid",
        "--symbols",
        "BTC",
        "--from",
        "-2h",
        "--rest-url",
        simulator.endpoints(ExchangeId.HYPERLIQUID).rest_url,
        cwd=REPO_ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()[-2000:]
    summary = orjson.loads(stderr.decode().strip().splitlines()[-1])
    assert summary["exchange"] == "hyperliquid"
    assert summary["errors"] == 0
    assert {t["what"]: t["status"] for t in summary["tasks"]} == {
        "klines": "ok",
        "funding": "ok",
        "oi": "not_offered",
    }


async def test_reconciliation_names_backfilled_rows(simulator: Simulator, settings: Settings) -> None:
    """Backfilled rows are on no topic; the topic-against-table check counts them apart, not as extra."""
    for exchange in (ExchangeId.BINANCE_USDM, ExchangeId.BINANCE_COINM, ExchangeId.BYBIT):
        await run_backfill(
            settings.database_url,
            exchange,
            [BTC[exchange]],
            _minutes_window(600),
            rest_url=simulator.endpoints(exchange).rest_url,
        )
    results = {r.table: r for r in await reconcile(settings)}
    for table in ("candles", "open_interest"):
        assert results[table].equal, results[table].line()
        assert results[table].backfilled_rows > 0
    assert results["candles"].backfilled_rows == 1800


async def test_analytics_start_up_backfill_warms_its_baselines(
    simulator: Simulator, migrated_database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``PERPWATCH_ANALYTICS_BACKFILL_*``: history into the tables, then under the volume baselines."""
    url = simulator.endpoints(ExchangeId.BYBIT).rest_url
    monkeypatch.setenv("PERPWATCH_ANALYTICS_BACKFILL_HOURS", "10")
    monkeypatch.setenv("PERPWATCH_ANALYTICS_BACKFILL_SYMBOLS", "bybit:BTC-USDT-PERP")
    monkeypatch.setenv("PERPWATCH_ANALYTICS_BACKFILL_REST_URLS", f"bybit={url}")
    processor = build_processor()
    assert processor.backfill is not None
    await processor._startup_backfill(processor.backfill, migrated_database_url)
    rows = _rows(migrated_database_url, "SELECT count(*) FROM candles WHERE source = 'venue'")[0][0]
    assert rows >= 599  # 10 hours of closed 1-minute bars
    stream = processor.engine.streams[("md.trades.v1", "bybit:BTC-USDT-PERP")]
    assert isinstance(stream, TradeStream)
    # Default spike timeframes 300/900/3600 s with a 100-bar window: 5 m and 15 m full, 1 h has 9-10.
    assert len(stream.volume_z[300].values) == 100
    assert 39 <= len(stream.volume_z[900].values) <= 40
    assert 9 <= len(stream.volume_z[3600].values) <= 10
    oi_stream = processor.engine.streams[("md.open_interest.v1", "bybit:BTC-USDT-PERP")]
    assert isinstance(oi_stream, OpenInterestStream)
    assert len(oi_stream.z[300].values) == 100  # 10 hours of 5-minute OI history: 119 changes, cut to 100


def test_analytics_backfill_is_off_without_symbols(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PERPWATCH_ANALYTICS_BACKFILL_SYMBOLS", raising=False)
    monkeypatch.delenv("PERPWATCH_ANALYTICS_PAIRS", raising=False)
    assert build_processor().backfill is None
    monkeypatch.setenv("PERPWATCH_ANALYTICS_BACKFILL_SYMBOLS", "bybit:BTCUSDT")
    monkeypatch.setenv("PERPWATCH_ANALYTICS_BACKFILL_HOURS", "0")
    assert build_processor().backfill is None


async def test_perpwatch_up_backfills_the_last_hours_from_the_simulator(
    simulator: Simulator, migrated_database_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.cli import up

    endpoints = tmp_path / "simulator-endpoints.json"
    endpoints.write_bytes(orjson.dumps(simulator.endpoints_json()))
    monkeypatch.setenv("PERPWATCH_UP_BACKFILL_HOURS", "2")
    settings = Settings(database_url=migrated_database_url)
    started = time.monotonic()
    await asyncio.to_thread(up._backfill_from_simulator, settings, str(endpoints))
    elapsed = time.monotonic() - started
    by_venue = dict(_rows(migrated_database_url, "SELECT exchange, count(*) FROM candles GROUP BY 1"))
    # Two symbols on each venue with a backfill module, two hours of closed 1-minute bars each
    # (COIN-M lists BTCUSD_PERP and ETHUSD_PERP for the USDT symbols).
    assert set(by_venue) == {"binance_usdm", "binance_coinm", "bybit", "hyperliquid"}
    assert all(2 * 119 <= n <= 2 * 120 for n in by_venue.values()), by_venue
    assert elapsed < 30  # cheap: it runs before the live stream starts on every make up
