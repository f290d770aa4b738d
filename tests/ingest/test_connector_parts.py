"""The connector's building blocks on their own: backoff, token bucket, Retry-After, splitting,
symbol resolution, and the one parsing path (bad input always ends as FrameRejected)."""

import asyncio
import random
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from schemas.common import ExchangeId
from services.ingest.connector import plan_connections, resolve_symbols
from services.ingest.connector.backoff import Backoff
from services.ingest.connector.parse import normalize_raw
from services.ingest.connector.rate_limit import TokenBucket
from services.ingest.connector.rest import parse_retry_after
from services.ingest.normalizer import FrameRejected
from services.ingest.venue import Channel, RateLimit
from services.instruments.catalog import load_snapshot
from services.venues import adapter_for


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    backoff = Backoff(initial_s=0.5, cap_s=8.0, factor=2.0, healthy_after_s=30, rng=random.Random(1))
    delays = [backoff.delay_after(0.1) for _ in range(8)]
    ceilings = [min(8.0, 0.5 * 2**n) for n in range(8)]
    for delay, ceiling in zip(delays, ceilings, strict=True):
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 8.0
    assert delays[-1] >= 4.0  # capped, still at least half the cap


def test_backoff_resets_after_a_healthy_connection() -> None:
    backoff = Backoff(initial_s=1.0, cap_s=60.0, healthy_after_s=10.0, rng=random.Random(2))
    for _ in range(5):
        backoff.delay_after(0.5)
    assert backoff.delay_after(0.5) >= 16.0  # still failing fast: the delay keeps growing
    assert backoff.delay_after(11.0) <= 1.0  # the last connection was healthy: start again


def test_backoff_jitter_spreads_simultaneous_reconnects() -> None:
    delays = {Backoff(rng=random.Random(seed)).delay_after(0) for seed in range(20)}
    assert len(delays) == 20


async def test_token_bucket_spaces_requests_at_the_refill_rate() -> None:
    bucket = TokenBucket(RateLimit(capacity=2, per_second=20))
    started = time.monotonic()
    for _ in range(6):
        await bucket.acquire(1)
    # Two from the full bucket, four more at 20/s: about 0.2 s.
    assert 0.17 <= time.monotonic() - started < 0.6


async def test_token_bucket_pause_holds_every_caller() -> None:
    bucket = TokenBucket(RateLimit(capacity=100, per_second=100))
    bucket.pause(0.3)
    started = time.monotonic()
    await asyncio.gather(bucket.acquire(1), bucket.acquire(1))
    assert time.monotonic() - started >= 0.29


def test_token_bucket_rejects_a_zero_rate() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(RateLimit(capacity=0, per_second=1))


def test_retry_after_accepts_seconds_and_http_dates() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("0.5") == 0.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=42), usegmt=True)
    assert parse_retry_after(later, now=now.timestamp()) == pytest.approx(42, abs=1)
    assert parse_retry_after("100000") == 600.0  # capped


def test_symbols_are_split_across_connections_by_the_venue_limit() -> None:
    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    symbols = [f"S{i}" for i in range(10)]
    channels = frozenset({Channel.TRADES, Channel.BOOK, Channel.BBO})
    groups = plan_connections(adapter, symbols, channels, limit=7)
    assert [len(g) for g in groups] == [2, 2, 2, 2, 2]  # 7 // 3 channels = 2 symbols each
    assert [s for g in groups for s in g] == symbols
    assert len(plan_connections(adapter, symbols, channels)) == 1  # 30 streams fit in 200


def test_symbols_resolve_from_native_or_canonical_names() -> None:
    instruments = resolve_symbols(ExchangeId.BINANCE_USDM, ["BTCUSDT", "ETH-USDT-PERP", "btc-usdt-perp"])
    assert [i.native_symbol for i in instruments] == ["BTCUSDT", "ETHUSDT"]
    with pytest.raises(ValueError, match="unknown binance_usdm symbol 'NOPE'"):
        resolve_symbols(ExchangeId.BINANCE_USDM, ["NOPE"])


@pytest.mark.parametrize(
    ("raw", "error_type"),
    [
        (b"{not json", "invalid_json"),
        (b"[1, 2]", "malformed"),
        (b'{"stream": "x", "data": {"e": "depthUpdate", "s": "BTCUSDT"}}', "malformed"),
        (b'{"e": "somethingNew"}', "unknown_event"),
        (
            # a dated future: not named like a perpetual, so nothing is derived
            b'{"e": "aggTrade", "s": "NOPEUSDT_240927", "a": 1, "p": "1", "q": "1", "T": 1, "m": true}',
            "unknown_instrument",
        ),
        (
            # found by the fuzz frames through the simulator: a 309-digit time stopped the connection
            b'{"e": "aggTrade", "s": "BTCUSDT", "a": 1, "p": "1", "q": "1", "T": 1e308, "m": true}',
            "out_of_range",
        ),
    ],
)
def test_bad_frames_are_rejected_with_a_reason(raw: bytes, error_type: str) -> None:
    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    with pytest.raises(FrameRejected) as rejected:
        normalize_raw(adapter, raw, 1)
    assert rejected.value.error_type == error_type


def test_control_frames_are_told_apart_from_data() -> None:
    binance = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    assert normalize_raw(binance, b'{"result": null, "id": 1}', 1) is None
    okx = adapter_for(ExchangeId.OKX, load_snapshot())
    assert normalize_raw(okx, b"pong", 1) is None  # OKX answers its text ping with bare text


def test_a_parser_that_raises_anything_else_is_contained() -> None:
    class Exploding:
        exchange = ExchangeId.BINANCE_USDM

        def normalize(self, frame: object, receive_ts: int) -> list[object]:
            raise ZeroDivisionError("bug")

    adapter = adapter_for(ExchangeId.BINANCE_USDM, load_snapshot())
    adapter.normalizer = Exploding()  # type: ignore[misc,assignment]
    with pytest.raises(FrameRejected) as rejected:
        normalize_raw(adapter, b'{"e": "aggTrade"}', 1)
    assert rejected.value.error_type == "parser_error"
