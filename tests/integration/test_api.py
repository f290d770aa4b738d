"""The query API on the real broker and database, after a real replay through real services.

The real Binance USD-M capture is replayed onto Kafka; the book-builder, market-recorder,
analytics and liquidity processors run on it (in this process, on the real runtime) and fill
book_bbo, book_depth, market_trades, candles and liquidity_metrics. Arbitrage needs two venues
and alerts need rules, so arb_*, liquidity_anomalies and alert_history get a few rows by SQL.
Then the API runs as it does under ``perpwatch run api`` (port 0) and every endpoint is asked:
each answer must validate against the API's own OpenAPI schema, and the filters must filter.
Security and the WebSocket are checked on the running server too.
"""

import asyncio
import contextlib
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import pytest
import websockets
from aiokafka import AIOKafkaConsumer, TopicPartition
from jsonschema import Draft202012Validator

from schemas.book import BookTop
from schemas.common import ExchangeId
from services.analytics.service import build_processor as analytics_processor
from services.api.service import Api
from services.api.settings import ApiSettings
from services.arbitrage.service import build_processor as arbitrage_processor
from services.book_builder.service import BookBuilderProcessor
from services.ingest.replay import replay_capture
from services.liquidity.service import build_processor as liquidity_processor
from services.market_recorder.service import MarketRecorder
from services.runtime.kafka import make_producer, send_event
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics, partitions_of
from tests.integration.helpers import REPO_ROOT, start_service_process, wait_until_consumed

SYMBOL = "BTC-USDT-PERP"
READ_KEY = "integration-read-key"
WRITE_KEY = "integration-write-key"
KEYS = ",".join(
    f"{hashlib.sha256(key.encode()).hexdigest()}:{scope}:{scope}r"
    for key, scope in ((READ_KEY, "read"), (WRITE_KEY, "write"))
)


@contextlib.asynccontextmanager
async def running_api(settings: Settings, **overrides: Any) -> AsyncIterator[tuple[Api, httpx.AsyncClient]]:
    api = Api(settings, ApiSettings(host="127.0.0.1", port=0, keys=KEYS, **overrides))
    task = asyncio.create_task(api.run())
    serving = asyncio.create_task(api.serving.wait())
    await asyncio.wait({task, serving}, timeout=90, return_when=asyncio.FIRST_COMPLETED)
    if not api.serving.is_set():
        serving.cancel()
        api.request_stop()
        await asyncio.gather(task, return_exceptions=True)
        raise AssertionError(f"api did not start: {task.exception() if task.done() else 'timeout'}")
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api.port}", timeout=30) as client:
            yield api, client
    finally:
        api.request_stop()
        await asyncio.wait_for(task, timeout=60)


class Shapes:
    """Validates answers against the running API's own OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document

    def check(self, path: str, body: Any, status: int = 200, method: str = "get") -> None:
        schema = self.document["paths"][path][method]["responses"][str(status)]["content"][
            "application/json"
        ]["schema"]
        Draft202012Validator({**schema, "components": self.document["components"]}).validate(body)


async def get(client: httpx.AsyncClient, shapes: Shapes, template: str, url: str, **params: Any) -> Any:
    answer = await client.get(url, params=params)
    assert answer.status_code == 200, (url, answer.status_code, answer.text[:500])
    assert answer.headers["x-request-id"]
    body = answer.json()
    shapes.check(template, body)
    return body


def _insert_analytics_rows(database_url: str, t0: Any) -> None:
    """Rows of the tables whose producers need several venues (arbitrage) or user rules (alerts)."""
    opportunity = "spread:okx:BTC-USDT-PERP>binance_usdm:BTC-USDT-PERP@1"
    closed = "spread:bybit:BTC-USDT-PERP>binance_usdm:BTC-USDT-PERP@2"
    with psycopg.connect(database_url) as conn:
        for oid, seq, event, buy in (
            (opportunity, 0, "opened", "okx"),
            (closed, 0, "opened", "bybit"),
            (closed, 1, "closed", "bybit"),
        ):
            conn.execute(
                "INSERT INTO arb_opportunities (ts, opportunity_id, seq, event, kind, symbol, buy_exchange,"
                " sell_exchange, sell_symbol, buy_quote, sell_quote, first_seen_ts, opened_ts, closed_ts,"
                " duration_ms, value_bps, peak_bps, peak_ts, notional, gross_spread_bps, notionals,"
                " executable_bps, buy_fee_bps, sell_fee_bps, reason) VALUES (%s, %s, %s, %s, 'spread', %s, %s,"
                " 'binance_usdm', %s, 'USDT', 'USDT', %s, %s, %s, %s, 3.5, 4.0, %s, 10000, 12.5, %s, %s, 5, 5, %s)",
                (
                    t0 + timedelta(seconds=seq),
                    oid,
                    seq,
                    event,
                    SYMBOL,
                    buy,
                    SYMBOL,
                    t0,
                    t0,
                    t0 + timedelta(seconds=1) if event == "closed" else None,
                    1000 if event == "closed" else None,
                    t0,
                    [Decimal(10000), Decimal(100000)],
                    [Decimal("3.5"), None],
                    "converged" if event == "closed" else "",
                ),
            )
        conn.execute(
            "INSERT INTO arb_spreads (ts, symbol, buy_exchange, sell_exchange, sell_symbol, gross_spread_bps, mid,"
            " notionals, executable_bps) VALUES (%s, %s, 'okx', 'binance_usdm', %s, 12.5, 61000, %s, %s)",
            (t0, SYMBOL, SYMBOL, [Decimal(10000)], [Decimal("2.5")]),
        )
        conn.execute(
            "INSERT INTO liquidity_anomalies (ts, exchange, symbol, phase, crunch_id, started_ts, severity,"
            " severity_score, samples, k, band_bps, sustain, end_after, evidence, receive_ts)"
            " VALUES (%s, 'bybit', %s, 'started', 'c1', %s, 'high', 7.5, 3, 4, 10, 3, 5, '[]', %s)",
            (t0, SYMBOL, t0, t0),
        )
        for status, minute in (("firing", 0), ("resolved", 1)):
            conn.execute(
                "INSERT INTO alert_history (idempotency_key, fingerprint, status, rule_id, rule_name, severity,"
                " labels, metric, condition, threshold, value, starts_at, ends_at, event_ts, starts_at_ns,"
                " event_ts_ns, reminder, summary, reason, suppressed, source_topic, source_partition,"
                " source_offset) VALUES (%s, 'f1', %s, 'wide-spread', 'Wide spread', 'warning', %s,"
                " 'liquidity.metrics.v1.spread_bps', '>', 25, 30, %s, %s, %s, 1, %s, 0, 'spread wide', '', '',"
                " 'liquidity.metrics.v1', 0, %s)",
                (
                    f"f1:{status}",
                    status,
                    orjson.dumps({"exchange": "binance_usdm", "symbol": SYMBOL}).decode(),
                    t0,
                    t0 + timedelta(minutes=1) if status == "resolved" else None,
                    t0 + timedelta(minutes=minute),
                    minute + 1,
                    minute,
                ),
            )


async def _wait_consumed_transactional(settings: Settings, group: str, logical_name: str) -> None:
    """Like ``wait_until_consumed`` for a topic written in transactions: the last offset of a
    partition is then a commit marker, which a consumer's committed position never passes."""
    name = settings.topic_name(logical_name)
    probe = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, group_id=group, enable_auto_commit=False
    )
    await probe.start()
    try:
        partitions = [TopicPartition(name, p) for p in await partitions_of(settings, name)]
        end = await probe.end_offsets(partitions)
        for _ in range(600):
            committed = {tp: (await probe.committed(tp)) or 0 for tp in partitions}
            if all(committed[tp] >= end[tp] - 1 for tp in partitions):
                return
            await asyncio.sleep(0.5)
        raise TimeoutError(f"group {group} committed {committed}, end offsets {end}")
    finally:
        await probe.stop()


async def test_every_endpoint_after_a_real_replay(settings: Settings, binance_capture: Path) -> None:
    await ensure_topics(settings)
    stats = await replay_capture(binance_capture, settings)
    assert stats.events["md.book.v1"] > 1000
    services = [
        StreamService(BookBuilderProcessor(), settings),
        StreamService(MarketRecorder(), settings),
        StreamService(analytics_processor(), settings),
        StreamService(liquidity_processor(), settings),
    ]
    running = [asyncio.create_task(service.run()) for service in services]
    try:
        group = settings.consumer_group_prefix
        await wait_until_consumed(settings, f"{group}.book-builder", "md.book.v1", timeout_s=300)
        await wait_until_consumed(settings, f"{group}.market-recorder", "md.trades.v1", timeout_s=300)
        await wait_until_consumed(settings, f"{group}.analytics", "md.trades.v1", timeout_s=300)
        await _wait_consumed_transactional(settings, f"{group}.liquidity", "book.l2.v1")
    finally:
        for service in services:
            service.request_stop()
        await asyncio.wait_for(asyncio.gather(*running), timeout=120)

    with psycopg.connect(settings.database_url) as conn:
        latest = conn.execute(
            "SELECT bid_price, ask_price, ts FROM book_bbo WHERE exchange = 'binance_usdm' AND symbol = %s"
            " ORDER BY ts DESC, book_seq DESC LIMIT 1",
            (SYMBOL,),
        ).fetchone()
        candle_count = conn.execute("SELECT count(*) FROM candles WHERE interval_s = 60").fetchone()
    if latest is None:
        from tests.integration.helpers import read_topic

        dead = await read_topic(settings, "dlq.v1")
        raise AssertionError(f"no book_bbo row; {len(dead)} dead letters, e.g. {dead[:2]}")
    assert candle_count is not None
    assert candle_count[0] >= 2, "the analytics service wrote fewer than two 1m candles"
    _insert_analytics_rows(settings.database_url, latest[2])

    async with running_api(settings) as (_, client):
        shapes = Shapes((await client.get("/openapi.json")).json())

        exchanges = await get(client, shapes, "/v1/exchanges", "/v1/exchanges", limit=100)
        assert {e["exchange"] for e in exchanges["items"]} == {e.value for e in ExchangeId}

        prices = await get(client, shapes, "/v1/prices", "/v1/prices", symbol=SYMBOL)
        [quote] = prices["items"]
        assert (quote["exchange"], Decimal(quote["bid_price"]), Decimal(quote["ask_price"])) == (
            "binance_usdm",
            latest[0],
            latest[1],
        )
        assert prices["best"][0]["best_bid_exchange"] == "binance_usdm"
        assert (await get(client, shapes, "/v1/prices", "/v1/prices", exchange="okx"))["items"] == []

        book = await get(
            client, shapes, "/v1/books/{exchange}/{symbol}", f"/v1/books/binance_usdm/{SYMBOL}", levels=5
        )
        assert len(book["bids"]) == len(book["asks"]) == 5
        bids = [Decimal(level["price"]) for level in book["bids"]]
        assert bids == sorted(bids, reverse=True)
        assert bids[0] < Decimal(book["asks"][0]["price"])
        missing = await client.get(f"/v1/books/okx/{SYMBOL}")
        assert missing.status_code == 404
        shapes.check("/v1/books/{exchange}/{symbol}", missing.json(), 404)

        ohlc_path = "/v1/ohlc/{exchange}/{symbol}/{interval}"
        bars = await get(client, shapes, ohlc_path, f"/v1/ohlc/binance_usdm/{SYMBOL}/1m", order="asc")
        assert len(bars["items"]) == candle_count[0]
        times = [bar["ts"] for bar in bars["items"]]
        assert times == sorted(times)
        later = await get(client, shapes, ohlc_path, f"/v1/ohlc/binance_usdm/{SYMBOL}/1m", start=times[1])
        assert len(later["items"]) == len(times) - 1
        first_page = await get(client, shapes, ohlc_path, f"/v1/ohlc/binance_usdm/{SYMBOL}/60", limit=1)
        assert first_page["next_offset"] == 1
        second_page = await get(
            client, shapes, ohlc_path, f"/v1/ohlc/binance_usdm/{SYMBOL}/60", limit=1, offset=1
        )
        assert second_page["items"][0]["ts"] < first_page["items"][0]["ts"]
        venues = await get(
            client, shapes, "/v1/ohlc/{symbol}/{interval}", f"/v1/ohlc/{SYMBOL}/1m", exchange="okx"
        )
        assert venues["items"] == []

        for path in ("/v1/funding", "/v1/open-interest"):
            await get(client, shapes, path, path, exchange="binance_usdm", symbol=SYMBOL)

        arb = "/v1/arbitrage/opportunities"
        assert len((await get(client, shapes, arb, arb))["items"]) == 1
        assert len((await get(client, shapes, arb, arb, state="recent"))["items"]) == 3
        assert len((await get(client, shapes, arb, arb, state="recent", exchange="okx"))["items"]) == 1
        spreads = await get(client, shapes, "/v1/arbitrage/spreads", "/v1/arbitrage/spreads", symbol=SYMBOL)
        assert spreads["items"][0]["executable_bps"] == ["2.5"]

        liquidity = await get(
            client,
            shapes,
            "/v1/liquidity/{exchange}/{symbol}",
            f"/v1/liquidity/binance_usdm/{SYMBOL}",
            limit=5,
        )
        assert len(liquidity["items"]) == 5
        assert [band["bps"] for band in liquidity["items"][0]["bands"]] == [10, 25, 50, 100]
        anomalies = await get(
            client, shapes, "/v1/liquidity/anomalies", "/v1/liquidity/anomalies", exchange="bybit"
        )
        assert [a["crunch_id"] for a in anomalies["items"]] == ["c1"]

        alerts = await get(client, shapes, "/v1/alerts", "/v1/alerts", status="resolved")
        assert [a["status"] for a in alerts["items"]] == ["resolved"]
        assert len((await get(client, shapes, "/v1/alerts", "/v1/alerts", symbol=SYMBOL))["items"]) == 2
        assert (await get(client, shapes, "/v1/alerts", "/v1/alerts", exchange="okx"))["items"] == []


async def test_security_on_the_running_server(settings: Settings) -> None:
    async with running_api(settings, rate_limit_per_key=1.0, rate_limit_burst_s=3.0) as (_, client):
        rule = {
            "id": "wide-spread",
            "name": "Wide spread",
            "metric": "liquidity.metrics.v1.spread_bps",
            "condition": ">",
            "threshold": "25",
        }
        assert (await client.post("/v1/alert-rules", json=rule)).status_code == 401
        assert (
            await client.post("/v1/alert-rules", json=rule, headers={"X-API-Key": "nope"})
        ).status_code == 401
        assert (
            await client.post("/v1/alert-rules", json=rule, headers={"X-API-Key": READ_KEY})
        ).status_code == 403

        huge = await client.post(
            "/v1/alert-rules",
            content=b"[" + b"1," * (5 * 1024 * 1024) + b"1]",
            headers={"Content-Type": "application/json"},
        )
        assert huge.status_code == 413

        big_number = b'{"id": "n", "name": "n", "metric": "liquidity.metrics.v1.spread_bps", "condition": ">", "threshold": 1e400}'
        answer = await client.post(
            "/v1/alert-rules",
            content=big_number,
            headers={"Content-Type": "application/json", "X-API-Key": WRITE_KEY},
        )
        assert answer.status_code == 422
        assert "1e400" not in answer.text

        created = await client.post("/v1/alert-rules", json=rule, headers={"X-API-Key": WRITE_KEY})
        assert created.status_code == 201, created.text
        with psycopg.connect(settings.database_url) as conn:
            stored = conn.execute("SELECT rule->>'threshold', updated_by FROM alert_rules").fetchall()
        assert stored == [("25", "api:writer")]

        # One request a second with a burst of 3: a quick series of requests is soon limited.
        answers = [await client.get("/v1/alert-rules", headers={"X-API-Key": WRITE_KEY}) for _ in range(6)]
        codes = [a.status_code for a in answers]
        assert 429 in codes, codes
        limited = answers[codes.index(429)]
        assert int(limited.headers["retry-after"]) >= 1
        assert limited.json()["error"]["code"] == "rate_limited"


async def test_websocket_streams_committed_kafka_records(settings: Settings) -> None:
    async with running_api(settings) as (api, _):
        url = f"ws://127.0.0.1:{api.port}/v1/ws?topic=book.bbo.v1&exchange=okx"
        async with websockets.connect(url) as socket:
            assert orjson.loads(await socket.recv())["type"] == "subscribed"
            producer = make_producer(settings)
            await producer.start()
            try:
                for exchange, seq in (("bybit", 1), ("okx", 2)):
                    top = BookTop(
                        exchange=ExchangeId(exchange),
                        symbol=SYMBOL,
                        native_symbol="BTCUSDT",
                        exchange_ts=1_700_000_000_000_000_000 + seq,
                        receive_ts=1_700_000_000_000_000_000 + seq,
                        venue_seq=seq,
                        book_seq=seq,
                        bid_price=Decimal("100"),
                        bid_quantity=Decimal("1"),
                        ask_price=Decimal("101"),
                        ask_quantity=Decimal("1"),
                    )
                    await send_event(producer, settings.topic_name("book.bbo.v1"), top)
                await producer.flush()
            finally:
                await producer.stop()
            message = orjson.loads(await asyncio.wait_for(socket.recv(), timeout=30))
        assert message["topic"] == "book.bbo.v1"
        assert message["key"] == f"okx:{SYMBOL}"
        assert message["event"]["venue_seq"] == 2
        assert message["dropped"] == 0


def _browser() -> Any:
    """Headless Debian chromium through chromedriver; skips when either is missing."""
    selenium = pytest.importorskip("selenium", reason="selenium (PyPI) is needed for the browser test")
    del selenium
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("apt-get install chromium chromium-driver for the browser test")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(driver), options=options)


async def test_dashboard_in_a_real_browser_on_the_simulated_pipeline(
    settings: Settings, tmp_path: Path
) -> None:
    from schemas.common import ExchangeId as Venue
    from services.cli.up import SIMULATED_SYMBOLS
    from services.simulator.server import grids_for

    browser = _browser()
    children: list[subprocess.Popen[bytes]] = []
    services: list[StreamService] = []
    running: list[asyncio.Task[None]] = []
    try:
        await ensure_topics(settings)
        endpoints = tmp_path / "endpoints.json"
        simulator, _ = start_service_process(
            ["services.cli", "simulate", "--endpoints-out", str(endpoints), "--duration", "900"],
            settings,
            tmp_path / "simulator.log",
        )
        children.append(simulator)
        for _ in range(300):
            if endpoints.exists():
                break
            assert simulator.poll() is None, (tmp_path / "simulator.log").read_text()[-3000:]
            await asyncio.sleep(0.1)
        venues = [Venue(name) for name in orjson.loads(endpoints.read_bytes())["venues"]]
        assert len(venues) >= 10
        feeds = ";".join(
            f"{venue.value}:{','.join(g.native_symbol for g in grids_for([venue], SIMULATED_SYMBOLS))}"
            for venue in venues
        )
        ingest, port = start_service_process(
            ["services.cli", "run", "ingest"],
            settings,
            tmp_path / "ingest.log",
            {
                "PERPWATCH_INGEST_FEEDS": feeds,
                "PERPWATCH_INGEST_ENDPOINTS": str(endpoints),
                "PERPWATCH_INSTRUMENT_CACHE_DIR": str(tmp_path / "instruments"),
            },
        )
        children.append(ingest)
        del port  # ingest is ready only when every venue is; the page shows what has arrived
        services = [
            StreamService(BookBuilderProcessor(), settings),
            StreamService(analytics_processor(), settings),
            StreamService(arbitrage_processor(), settings),
            StreamService(liquidity_processor(), settings),
        ]
        running = [asyncio.create_task(service.run()) for service in services]

        async with running_api(settings) as (api, _):
            url = f"http://127.0.0.1:{api.port}/?symbol=BTC-USDT-PERP&exchange=binance_usdm&interval=1s"
            await asyncio.to_thread(browser.get, url)

            def progress() -> tuple[int, int, str]:
                venues_shown = browser.execute_script(
                    "return new Set([...document.querySelectorAll('#prices tbody tr')].map(r => r.dataset.exchange)).size"
                )
                candles = browser.execute_script("return Number(document.body.dataset.candles || 0)")
                live = browser.execute_script("return document.getElementById('live').textContent")
                return int(venues_shown), int(candles), str(live)

            shown = (0, 0, "")
            for _ in range(180):
                shown = await asyncio.to_thread(progress)
                if shown[0] >= 10 and shown[1] >= 3 and shown[2] == "live":
                    break
                await asyncio.sleep(1)
            artifact = REPO_ROOT / ".state" / "artifacts" / "dashboard.png"
            artifact.parent.mkdir(parents=True, exist_ok=True)
            await asyncio.to_thread(browser.save_screenshot, str(artifact))
            print(f"dashboard: {shown[0]} venues, {shown[1]} candles, {shown[2]}; screenshot {artifact}")
            errors = [
                entry
                for entry in await asyncio.to_thread(browser.get_log, "browser")
                if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")
            ]
            assert shown[0] >= 10, f"prices table shows {shown[0]} venues"
            assert shown[1] >= 3, f"the chart has {shown[1]} candles"
            assert shown[2] == "live", "the page's WebSocket is not connected"
            # The chart fills its panel (the data tables' cell styles once squeezed its own table).
            gap = await asyncio.to_thread(
                browser.execute_script,
                "const chart = document.getElementById('chart').getBoundingClientRect().right;"
                "return chart - Math.max(...[...document.querySelectorAll('#chart canvas')]"
                ".map(c => c.getBoundingClientRect().right))",
            )
            assert gap < 5, f"the chart ends {gap}px short of its panel"
            assert errors == [], errors
    finally:
        browser.quit()
        for service in services:
            service.request_stop()
        await asyncio.gather(*running, return_exceptions=True)
        for child in children:
            child.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()


async def test_schemathesis_finds_no_server_error_and_no_schema_break(
    settings: Settings, tmp_path: Path
) -> None:
    """Schemathesis (PyPI) fuzzes every operation of the OpenAPI schema against the running API."""
    cli = shutil.which(
        "schemathesis", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    )
    if cli is None:
        pytest.skip("schemathesis (PyPI) is needed for the schema fuzz test")
    with psycopg.connect(settings.database_url) as conn:
        t0 = conn.execute("SELECT now()").fetchone()
    assert t0 is not None
    _insert_analytics_rows(settings.database_url, t0[0])
    async with running_api(settings, rate_limit_per_ip=10_000.0, rate_limit_per_key=10_000.0) as (api, _):
        process = await asyncio.create_subprocess_exec(
            cli,
            "run",
            f"http://127.0.0.1:{api.port}/openapi.json",
            "--checks",
            "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            "--max-examples",
            "25",
            "--seed",
            "1",
            "--workers",
            "1",
            "--header",
            f"X-API-Key: {WRITE_KEY}",
            "--report-dir",
            str(tmp_path),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=600)
    text = output.decode(errors="replace")
    print(text[-3000:])
    assert process.returncode == 0, text[-6000:]


async def _idle_websocket(port: int, path: str) -> asyncio.StreamWriter:
    """A WebSocket client that completes the handshake and then never reads, on a socket with a
    tiny receive buffer: what a stalled browser tab looks like to the server."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await writer.drain()
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    # Stop reading: the transport pauses once its buffer is full and the kernel's fills behind it.
    transport = writer.transport
    assert isinstance(transport, asyncio.Transport)
    transport.pause_reading()
    return writer


async def test_websocket_slow_clients_drop_oldest_while_readers_get_everything(settings: Settings) -> None:
    messages, queue_size = 3000, 100
    async with running_api(
        settings, ws_queue=queue_size, socket_send_buffer=16384, rate_limit_per_ip=10_000.0
    ) as (api, _):
        url = f"ws://127.0.0.1:{api.port}/v1/ws?topic=book.bbo.v1"
        idle = [await _idle_websocket(api.port, "/v1/ws?topic=book.bbo.v1") for _ in range(100)]
        readers = [await websockets.connect(url) for _ in range(3)]
        try:
            for reader in readers:
                assert orjson.loads(await reader.recv())["type"] == "subscribed"
            assert len(api.hub.subscribers) == 103

            async def read_all(reader: Any) -> list[tuple[int, int]]:
                got: list[tuple[int, int]] = []
                while len(got) < messages:
                    message = orjson.loads(await reader.recv())
                    got.append((message["event"]["venue_seq"], message["dropped"]))
                return got

            reading = [asyncio.create_task(read_all(reader)) for reader in readers]
            started = time.monotonic()
            producer = make_producer(settings)
            await producer.start()
            try:
                for seq in range(messages):
                    top = BookTop(
                        exchange=ExchangeId.OKX,
                        symbol=SYMBOL,
                        native_symbol="BTC-USDT-SWAP",
                        exchange_ts=1_700_000_000_000_000_000 + seq,
                        receive_ts=1_700_000_000_000_000_000 + seq,
                        venue_seq=seq,
                        book_seq=seq,
                        bid_price=Decimal("100"),
                        bid_quantity=Decimal("1"),
                        ask_price=Decimal("101"),
                        ask_quantity=Decimal("1"),
                    )
                    await send_event(producer, settings.topic_name("book.bbo.v1"), top)
                await producer.flush()
            finally:
                await producer.stop()
            print(f"produced at {time.monotonic() - started:.1f}s")
            received = await asyncio.wait_for(asyncio.gather(*reading), timeout=120)
            print(
                f"read at {time.monotonic() - started:.1f}s; {len(api.hub.subscribers)} subscribers, "
                f"queues {sorted(len(s.queue) for s in api.hub.subscribers)[-5:]}"
            )
            for got in received:
                # One key, one partition: every record, in order, nothing dropped.
                assert [seq for seq, _ in got] == list(range(messages))
                assert {dropped for _, dropped in got} == {0}
            slow = [s for s in api.hub.subscribers if s.dropped > 0]
            assert len(slow) >= 100, f"only {len(slow)} slow clients dropped messages"
            assert all(len(s.queue) <= queue_size for s in api.hub.subscribers)
            print(
                f"drops per slow client: min {min(s.dropped for s in slow)}, max {max(s.dropped for s in slow)}"
            )
            # Every message a slow client still gets carries its counter: the next one it would read
            # after the drops says how many it missed.
            assert all(s.take_nowait().startswith(b'{"dropped":%d,' % s.dropped) for s in slow)  # type: ignore[union-attr]
        finally:
            for writer in idle:
                writer.close()
            for client in readers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(client.close(), timeout=2)
