"""Every simulator dialect speaks its venue's protocol well enough for the REAL venue parser:
whatever a dialect renders, the venue's normalizer accepts, with the events it declares."""

import asyncio
import json
import urllib.error
import urllib.request

import pytest

from schemas.common import ExchangeId
from schemas.market_data import BookSnapshot
from services.ingest.connector import instruments_of
from services.ingest.connector.parse import CHANNEL_OF_EVENT, normalize_raw
from services.ingest.venue import Channel, RestRequest
from services.instruments.catalog import load_snapshot
from services.simulator.dialect import Dialect, Endpoints, HttpRequest, Session
from services.simulator.model import Fault, FaultKind, MarketModel, TransportFault
from services.simulator.server import Simulator, SimulatorConfig, fault_from_json, grids_for
from services.venues import adapter_for, dialect_for, registered_venues

from .test_simulator_model import STEP_NS, T0

DIALECTS = registered_venues()
SYMBOLS = ("BTC-USDT-PERP", "ETH-USDT-PERP")


def bound(venue: ExchangeId, symbols: tuple[str, ...] = SYMBOLS) -> tuple[MarketModel, Dialect]:
    model = MarketModel(grids_for([venue], symbols), seed=21)
    dialect = dialect_for(venue)
    dialect.bind(model, Endpoints("ws://127.0.0.1:1/ws", "http://127.0.0.1:2"))
    return model, dialect


def test_every_dialect_is_a_venue_with_an_adapter() -> None:
    assert ExchangeId.BINANCE_USDM in DIALECTS
    assert set(DIALECTS) <= set(registered_venues())


@pytest.mark.parametrize("venue", DIALECTS, ids=lambda v: v.value)
def test_rendered_frames_parse_with_the_real_normalizer(venue: ExchangeId) -> None:
    render_and_parse(venue, SYMBOLS)


INVERSE = [v for v in DIALECTS if any(i.inverse for i in instruments_of(v))]


@pytest.mark.parametrize("venue", INVERSE, ids=lambda v: v.value)
def test_inverse_contracts_render_and_parse(venue: ExchangeId) -> None:
    """The USD-quoted contracts (BitMEX XBTUSD, KuCoin XBTUSDM, OKX BTC-USD-SWAP, Phemex BTCUSD...)."""
    [inverse] = [i for i in instruments_of(venue) if i.inverse][:1]
    render_and_parse(venue, (inverse.symbol,))


def render_and_parse(venue: ExchangeId, symbols: tuple[str, ...]) -> None:
    model, dialect = bound(venue, symbols)
    assert any(g.inverse for g in model.grids) or symbols == SYMBOLS
    adapter = adapter_for(venue, load_snapshot())
    model.inject(Fault(FaultKind.LIQUIDATION_BURST, venue=venue, duration_s=0.5))
    # Subscribe first: some parsers keep state a subscription's first frames set up (BitMEX levels).
    session = Session(1, "/")
    natives = [g.native_symbol for g in model.grids]
    for text in adapter.subscribe_frames(frozenset(Channel), natives):
        for reply in dialect.on_message(session, text, T0):
            normalize_raw(adapter, reply.text.encode(), T0)
    seen: set[Channel] = set()
    frames = 0
    for n in range(60):
        for event in model.step(T0 + n * STEP_NS):
            if isinstance(event, TransportFault):
                continue
            for frame in dialect.render(event):
                events = normalize_raw(adapter, frame.text.encode(), T0) or []
                declared = dict(frame.carries)
                got: dict[Channel, int] = {}
                for parsed in events:
                    channel = CHANNEL_OF_EVENT[type(parsed)]
                    got[channel] = got.get(channel, 0) + 1
                assert got == declared, frame.text[:200]
                seen.update(got)
                frames += 1
    assert frames > 100
    # Every channel the venue streams shows up (open interest, and KuCoin's funding, are REST-only
    # on some venues).
    streamed = adapter.capabilities - adapter.polled_channels
    assert streamed <= seen


@pytest.mark.parametrize("venue", DIALECTS, ids=lambda v: v.value)
def test_subscription_handshake_acks_are_control_frames(venue: ExchangeId) -> None:
    model, dialect = bound(venue)
    adapter = adapter_for(venue, load_snapshot())
    natives = [g.native_symbol for g in model.grids]
    session = Session(1, "/")
    replies = [
        reply
        for text in adapter.subscribe_frames(frozenset(Channel), natives)
        for reply in dialect.on_message(session, text, T0)
    ]
    assert session.topics
    for reply in replies:
        events = normalize_raw(adapter, reply.text.encode(), T0)
        assert events is None or len(events) == sum(n for _, n in reply.carries), reply.text[:200]
        if events:
            assert all(
                isinstance(e, BookSnapshot) or CHANNEL_OF_EVENT[type(e)] is not Channel.BOOK for e in events
            )
    ping = adapter.ping_frame()
    if ping is not None:
        # One pong, or nothing where the client's "ping" is itself the answer (Engine.IO's "3").
        replies = dialect.on_message(session, ping, T0)
        assert len(replies) <= 1
        assert all(normalize_raw(adapter, r.text.encode(), T0) in (None, []) for r in replies)


@pytest.mark.parametrize("venue", DIALECTS, ids=lambda v: v.value)
def test_instrument_endpoint_agrees_with_the_committed_snapshot(venue: ExchangeId) -> None:
    model, dialect = bound(venue)
    adapter = adapter_for(venue, load_snapshot())
    request = adapter.instruments_request()
    reply = dialect.rest(HttpRequest(request.method, request.path, dict(request.params), _body(request)), T0)
    assert reply.status == 200
    payload = json.loads(reply.body)
    details = getattr(adapter, "instrument_details_request", None)
    if details is not None:  # CoinDCX lists names first, then each instrument's details
        payload = [json.loads(dialect.rest(_get(details(name)), T0).body) for name in payload]
    parsed = {i.native_symbol: i for i in adapter.parse_instruments(payload)}
    for grid in model.grids:
        instrument = parsed[grid.native_symbol]
        assert (instrument.symbol, instrument.tick_size, instrument.lot_size) == (
            grid.symbol,
            grid.tick,
            grid.lot,
        )
        assert instrument.inverse == grid.inverse


def _body(request: RestRequest) -> bytes:
    return json.dumps(request.params).encode() if request.method == "POST" and request.params else b""


def _get(request: RestRequest) -> HttpRequest:
    return HttpRequest(request.method, request.path, dict(request.params), _body(request))


def test_fault_documents_are_validated() -> None:
    fault = fault_from_json({"kind": "dislocation", "venue": "okx", "magnitude": "25", "duration_s": 3})
    assert fault == Fault(FaultKind.DISLOCATION, venue=ExchangeId.OKX, magnitude=25.0, duration_s=3.0)
    with pytest.raises(ValueError, match="meteor"):
        fault_from_json({"kind": "meteor"})


def _call(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_control_endpoint_injects_faults_and_reports_stats() -> None:
    config = SimulatorConfig(venues=(ExchangeId.BINANCE_USDM,), duration_s=20)
    async with Simulator(config) as simulator:
        base = simulator.control_url
        status, body = await asyncio.to_thread(
            _call,
            f"{base}/faults",
            "POST",
            json.dumps({"kind": "liquidity_crunch", "venue": "binance_usdm"}).encode(),
        )
        assert (status, body) == (202, {"injected": "liquidity_crunch"})
        status, body = await asyncio.to_thread(
            _call, f"{base}/faults?kind=rest_rate_limit&venue=binance_usdm&count=1", "POST"
        )
        assert status == 202
        rest = simulator.endpoints(ExchangeId.BINANCE_USDM).rest_url
        status, body = await asyncio.to_thread(_call, f"{rest}/fapi/v1/depth?symbol=BTCUSDT&limit=5")
        assert status == 429
        status, body = await asyncio.to_thread(_call, f"{rest}/fapi/v1/depth?symbol=BTCUSDT&limit=5")
        assert status == 200
        assert len(body["bids"]) == 5  # type: ignore[arg-type]
        status, body = await asyncio.to_thread(_call, f"{base}/faults?kind=meteor", "POST")
        assert status == 400
        status, stats = await asyncio.to_thread(_call, f"{base}/stats")
        assert stats["faults"] == {"liquidity_crunch": 1, "rest_rate_limit": 1}
        assert stats["rest"] == {"binance_usdm:200": 1, "binance_usdm:429": 1}
        assert (await asyncio.to_thread(_call, f"{base}/pause", "POST"))[0] == 200
        assert (await asyncio.to_thread(_call, f"{base}/endpoints"))[1]["venues"]


async def test_control_endpoint_sends_raw_frames_and_refuses_bad_requests() -> None:
    """``POST /frames``: fuzzed frames go out as they are; the tests of tests/system send them."""
    config = SimulatorConfig(venues=(ExchangeId.BINANCE_USDM,), duration_s=20)
    async with Simulator(config) as simulator:
        base = simulator.control_url

        async def post(document: object) -> tuple[int, dict[str, object]]:
            return await asyncio.to_thread(_call, f"{base}/frames", "POST", json.dumps(document).encode())

        assert await post({"venue": "binance_usdm", "frames": ["{", "x"]}) == (
            202,
            {"frames": 2, "sessions": 0},
        )
        assert (await post({"venue": "binance_usdm", "frames": [1]}))[0] == 400
        assert (await post({"venue": "nowhere", "frames": []}))[0] == 400
        assert (await post({"venue": "okx", "frames": []}))[0] == 404  # not simulated here
        assert (await asyncio.to_thread(_call, f"{base}/frames"))[0] == 405


async def test_the_simulator_stops_by_itself() -> None:
    simulator = Simulator(SimulatorConfig(venues=(ExchangeId.BINANCE_USDM,), duration_s=0.3))
    await asyncio.wait_for(simulator.run(), timeout=5)
    assert simulator.model.steps >= 2
