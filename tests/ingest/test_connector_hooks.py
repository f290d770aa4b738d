"""The connector's optional venue hooks, each against the simulated venue that needs it:

- KuCoin's ping period comes with the connection token, read after the token request;
- KuCoin's funding and open interest are one REST poll, made for either channel;
- venue-wide subscriptions (Phemex's 24 h tickers, CoinDCX's current prices) go out once per venue
  when symbols are split over connections, so no funding event arrives twice;
- CoinDCX's Engine.IO: joins wait for the namespace ack, server pings are answered;
- POST requests send their parameters as a JSON body (Hyperliquid's /info);
- Binance COIN-M open interest (contracts) is converted at the latest mark price.
"""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from decimal import Decimal

import orjson
import pytest

from schemas.common import ExchangeId
from schemas.market_data import ConnectorState, Funding, OpenInterest
from services.ingest.connector.rest import RestClient
from services.ingest.venue import Channel
from services.instruments.catalog import load_snapshot
from services.simulator.server import Simulator, SimulatorConfig
from services.venues import adapter_for
from services.venues.coindcx.dialect import CoindcxDialect
from services.venues.kucoin_futures.dialect import KucoinFuturesDialect

from .test_connector_simulator import FAST_MARKET, sent_counts, start_feed, wait_until

HOOK_VENUES = (
    ExchangeId.KUCOIN_FUTURES,
    ExchangeId.PHEMEX,
    ExchangeId.COINDCX,
    ExchangeId.HYPERLIQUID,
    ExchangeId.BINANCE_COINM,
)


@pytest.fixture
async def simulator() -> AsyncIterator[Simulator]:
    config = SimulatorConfig(venues=HOOK_VENUES, seed=5, duration_s=60, record_frames=True, model=FAST_MARKET)
    async with Simulator(config) as running:
        yield running


async def test_kucoin_pings_at_the_interval_its_token_announces(simulator: Simulator) -> None:
    venue = ExchangeId.KUCOIN_FUTURES
    dialect = simulator.dialect(venue)
    assert isinstance(dialect, KucoinFuturesDialect)
    dialect.ping_interval_ms = 150  # the adapter's default is 18 s
    feed = start_feed(simulator, venue, channels=frozenset({Channel.TRADES}))
    await feed.connector.wait_connected(5)
    subscribed = simulator.stats.client_frames[venue.value]
    await asyncio.sleep(1.0)
    pings = simulator.stats.client_frames[venue.value] - subscribed
    await simulator.settle()
    await feed.stop()

    [connection] = feed.connector.connections
    assert connection.ping_interval_s == pytest.approx(0.15)
    assert 4 <= pings <= 8  # about one per 150 ms
    assert feed.sink.rejected == []


async def test_kucoin_funding_alone_is_polled_from_the_contract_detail(simulator: Simulator) -> None:
    venue = ExchangeId.KUCOIN_FUTURES
    feed = start_feed(simulator, venue, channels=frozenset({Channel.FUNDING}), open_interest_poll_s=0.2)
    await wait_until(lambda: feed.received()["funding"] >= 4)
    await simulator.settle()
    await feed.stop()

    assert set(feed.received()) == {"funding"}  # the open interest of the same answer is not wanted
    polled = Counter(
        path for _, v, path, status in simulator.stats.rest_log if v == venue.value and status == 200
    )
    assert polled["/api/v1/contracts/XBTUSDTM"] >= 2
    assert feed.received()["funding"] == sent_counts(simulator, venue)["funding"]


@pytest.mark.parametrize("venue", [ExchangeId.PHEMEX, ExchangeId.COINDCX], ids=lambda v: v.value)
async def test_venue_wide_channels_are_subscribed_once_per_venue(
    simulator: Simulator, venue: ExchangeId
) -> None:
    channels = frozenset({Channel.TRADES, Channel.BOOK, Channel.FUNDING})
    feed = start_feed(simulator, venue, channels=channels, max_subscriptions_per_connection=3)
    assert len(feed.connector.connections) == 2  # one symbol each
    await wait_until(lambda: feed.received()["funding"] >= 6)
    await simulator.settle()
    await feed.stop()

    funding_sessions = {
        session
        for name, session, text in simulator.stats.recorded
        if name == venue.value and ("market24h" in text or "currentPrices" in text)
    }
    assert len(funding_sessions) == 1
    fundings = Counter((e.native_symbol, e.exchange_ts) for e in feed.sink.received if isinstance(e, Funding))
    assert len({symbol for symbol, _ in fundings}) == 2  # both symbols, through one subscription
    assert max(fundings.values()) == 1  # and never twice
    assert feed.received() == sent_counts(simulator, venue)
    assert feed.sink.rejected == []


class _Tap:
    def __init__(self) -> None:
        self.traffic: list[tuple[str, str]] = []

    def connected(self, connection_id: str, url: str, ts: int) -> None:
        pass

    def sent(self, connection_id: str, frame: str, ts: int) -> None:
        self.traffic.append(("sent", frame))

    def received(self, connection_id: str, raw: bytes | str, ts: int) -> None:
        self.traffic.append(("received", raw.decode() if isinstance(raw, bytes) else raw))

    def rest(self, path: str, native_symbol: str, body: bytes, ts: int, purpose: str) -> None:
        pass

    def disconnected(self, connection_id: str, detail: str, ts: int) -> None:
        pass


async def test_coindcx_joins_after_the_namespace_ack_and_answers_server_pings(simulator: Simulator) -> None:
    venue = ExchangeId.COINDCX
    dialect = simulator.dialect(venue)
    assert isinstance(dialect, CoindcxDialect)
    dialect.ping_interval_ms, dialect.ping_timeout_ms = 100, 250
    tap = _Tap()
    feed = start_feed(simulator, venue, tap=tap, ping_interval_s=60.0)  # no unsolicited "3"
    await wait_until(lambda: feed.received()["trades"] >= 5 and feed.received()["book"] >= 5)
    await asyncio.sleep(0.6)  # several server pings, each longer than the ping timeout
    await simulator.settle()
    await feed.stop()

    traffic = [(way, text[:2]) for way, text in tap.traffic]
    assert traffic[0] == ("sent", "40")
    namespace_ack = traffic.index(("received", "40"))
    first_join = traffic.index(("sent", "42"))
    assert traffic.index(("received", "0{")) < namespace_ack < first_join
    pings = sum(1 for way, text in tap.traffic if (way, text) == ("received", "2"))
    pongs = sum(1 for way, text in tap.traffic if (way, text) == ("sent", "3"))
    assert pings >= 5
    assert pongs == pings
    assert feed.states() == [ConnectorState.CONNECTED, ConnectorState.DISCONNECTED]  # never dropped
    assert feed.sink.rejected == []
    assert feed.received() == sent_counts(simulator, venue)


async def test_post_requests_send_their_parameters_as_json(simulator: Simulator) -> None:
    venue = ExchangeId.HYPERLIQUID
    adapter = adapter_for(venue, load_snapshot())
    client = RestClient(venue, simulator.endpoints(venue).rest_url, adapter.rest_rate_limit)
    request = adapter.instruments_request()
    assert request.method == "POST"
    response = await client.call(request)
    instruments = adapter.parse_instruments(orjson.loads(response.body))
    assert {i.native_symbol for i in instruments} == {"BTC", "ETH"}


async def test_coinm_open_interest_is_converted_at_the_latest_mark_price(simulator: Simulator) -> None:
    venue = ExchangeId.BINANCE_COINM
    channels = frozenset({Channel.FUNDING, Channel.OPEN_INTEREST})
    feed = start_feed(simulator, venue, channels=channels, open_interest_poll_s=0.2)
    await wait_until(lambda: feed.received()["open_interest"] >= 4)
    await simulator.settle()
    await feed.stop()

    assert feed.sink.rejected == []
    assert feed.received() == sent_counts(simulator, venue)
    marks: dict[str, set[Decimal]] = {}
    for event in feed.sink.received:
        if isinstance(event, Funding) and event.mark_price is not None:
            marks.setdefault(event.native_symbol, set()).add(event.mark_price)
    assert set(feed.connector.mark_prices) == set(marks)
    for event in (e for e in feed.sink.received if isinstance(e, OpenInterest)):
        # Inverse contracts: base = contracts * size / mark, notional = contracts * size (USD), so
        # their ratio is the mark price the poll was converted at: one the feed had received.
        assert event.open_interest_notional is not None
        price = event.open_interest_notional / event.open_interest
        assert min(abs(price - mark) for mark in marks[event.native_symbol]) < Decimal("1e-9")
