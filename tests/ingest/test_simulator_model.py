"""The simulator's market model on its own: deterministic, realistic, and faults do what they say."""

import math
from collections import Counter
from decimal import Decimal

import pytest

from schemas.common import ExchangeId, Side
from services.ingest.connector import instruments_of
from services.simulator.model import (
    BookChange,
    BookView,
    Fault,
    FaultKind,
    FundingPrint,
    Grid,
    LiquidationPrint,
    MarketModel,
    ModelConfig,
    TopOfBook,
    TradePrint,
    TransportFault,
)

T0 = 1_700_000_000_000_000_000
STEP_NS = 100_000_000


def grids(*venues: ExchangeId, symbols: tuple[str, ...] = ("BTC-USDT-PERP", "ETH-USDT-PERP")) -> list[Grid]:
    return [Grid.of(i) for v in venues for i in instruments_of(v) if i.symbol in symbols]


BINANCE_AND_BYBIT = (ExchangeId.BINANCE_USDM, ExchangeId.BYBIT)


def run(model: MarketModel, steps: int) -> list[object]:
    return [event for n in range(steps) for event in model.step(T0 + n * STEP_NS)]


def test_same_seed_same_market_other_seed_other_market() -> None:
    first = run(MarketModel(grids(*BINANCE_AND_BYBIT), seed=3), 200)
    again = run(MarketModel(grids(*BINANCE_AND_BYBIT), seed=3), 200)
    other = run(MarketModel(grids(*BINANCE_AND_BYBIT), seed=4), 200)
    assert first == again
    assert first != other


def test_venues_track_one_fair_price_with_a_small_basis() -> None:
    model = MarketModel(grids(*BINANCE_AND_BYBIT), seed=5)
    gaps_bps = []
    for n in range(3000):
        model.step(T0 + n * STEP_NS)
        a = model.mid_price(ExchangeId.BINANCE_USDM, "BTCUSDT")
        b = model.mid_price(ExchangeId.BYBIT, "BTCUSDT")
        gaps_bps.append(abs(a - b) / a * 1e4)
    assert max(gaps_bps) < 15  # a few bps of basis noise, never a dislocation by itself
    assert sum(gaps_bps) / len(gaps_bps) > 0.1  # but not identical either


def test_assets_are_correlated() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM), seed=6, config=ModelConfig(correlation=0.8))
    btc, eth = [], []
    last = (model.fair_price("BTC"), model.fair_price("ETH"))
    for n in range(4000):
        model.step(T0 + n * STEP_NS)
        now = (model.fair_price("BTC"), model.fair_price("ETH"))
        btc.append(math.log(now[0] / last[0]))
        eth.append(math.log(now[1] / last[1]))
        last = now
    mean_b, mean_e = sum(btc) / len(btc), sum(eth) / len(eth)
    cov = sum((x - mean_b) * (y - mean_e) for x, y in zip(btc, eth, strict=True))
    var_b = sum((x - mean_b) ** 2 for x in btc)
    var_e = sum((y - mean_e) ** 2 for y in eth)
    # Each asset loads 0.8 on the common factor, so two assets correlate at 0.8**2 = 0.64.
    assert 0.55 < cov / math.sqrt(var_b * var_e) < 0.73


def test_books_are_never_crossed_and_diffs_rebuild_the_book() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM), seed=7)
    start = model.book(ExchangeId.BINANCE_USDM, "BTCUSDT")
    bids, asks = dict(start.bids), dict(start.asks)
    last = start.last
    for n in range(500):
        for event in model.step(T0 + n * STEP_NS):
            if isinstance(event, BookChange) and event.grid.native_symbol == "BTCUSDT":
                assert event.prev == last
                assert event.first == last + 1
                assert event.last >= event.first
                last = event.last
                for side, levels in ((bids, event.bids), (asks, event.asks)):
                    for price, lots in levels:
                        if lots:
                            side[price] = lots
                        else:
                            side.pop(price, None)
                assert max(bids) < min(asks)
    view = model.book(ExchangeId.BINANCE_USDM, "BTCUSDT")
    assert sorted(bids.items(), reverse=True) == view.bids
    assert sorted(asks.items()) == view.asks
    assert view.last == last
    assert len(view.bids) == len(view.asks) == model.config.depth_levels


def test_trades_happen_at_the_touch_and_funding_every_second() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM, symbols=("BTC-USDT-PERP",)), seed=8)
    events = run(model, 100)  # 10 s
    kinds = Counter(type(e).__name__ for e in events)
    assert kinds["FundingPrint"] == 10
    assert kinds["OpenInterestPrint"] == 10
    assert 30 < kinds["TradePrint"] < 100  # 6 per second on average
    tops: dict[int, TopOfBook] = {}
    for event in events:
        if isinstance(event, TopOfBook):
            tops[event.ts] = event
    for trade in (e for e in events if isinstance(e, TradePrint)):
        assert trade.lots > 0
        assert trade.price > 0
    funding = next(e for e in events if isinstance(e, FundingPrint))
    assert Decimal("-0.001") < funding.rate < Decimal("0.001")
    assert funding.next_funding_ts % (8 * 3600 * 10**9) == 0


def test_dislocation_moves_one_venue_away_from_the_others() -> None:
    model = MarketModel(grids(*BINANCE_AND_BYBIT), seed=9)
    run(model, 10)
    model.inject(
        Fault(
            FaultKind.DISLOCATION, venue=ExchangeId.BYBIT, symbol="BTC-USDT-PERP", magnitude=80, duration_s=5
        )
    )
    model.step(T0 + 11 * STEP_NS)
    a = model.mid_price(ExchangeId.BINANCE_USDM, "BTCUSDT")
    b = model.mid_price(ExchangeId.BYBIT, "BTCUSDT")
    assert 60 < (b - a) / a * 1e4 < 100
    run(model, 100)  # decays within its duration
    a = model.mid_price(ExchangeId.BINANCE_USDM, "BTCUSDT")
    b = model.mid_price(ExchangeId.BYBIT, "BTCUSDT")
    assert abs(b - a) / a * 1e4 < 20


def test_liquidity_crunch_thins_the_book_and_widens_the_spread() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM, symbols=("BTC-USDT-PERP",)), seed=10)
    run(model, 5)
    before = model.book(ExchangeId.BINANCE_USDM, "BTCUSDT", 5)
    model.inject(Fault(FaultKind.LIQUIDITY_CRUNCH, venue=ExchangeId.BINANCE_USDM, magnitude=10, duration_s=1))
    model.step(T0 + 6 * STEP_NS)
    during = model.book(ExchangeId.BINANCE_USDM, "BTCUSDT", 5)

    def spread(view: BookView) -> int:
        return view.asks[0][0] - view.bids[0][0]

    def depth(view: BookView) -> int:
        return sum(lots for _, lots in view.bids[:3])

    assert spread(during) >= 5 * spread(before)
    assert depth(during) < depth(before) / 3


def test_liquidation_burst_emits_forced_orders_on_one_side() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM, symbols=("BTC-USDT-PERP",)), seed=12)
    model.inject(Fault(FaultKind.LIQUIDATION_BURST, venue=ExchangeId.BINANCE_USDM, duration_s=1))
    events = run(model, 10)
    liquidations = [e for e in events if isinstance(e, LiquidationPrint)]
    assert len(liquidations) >= 10
    assert len({e.side for e in liquidations}) == 1
    taker = Side.BUY if liquidations[0].side is Side.BUY else Side.SELL
    assert sum(isinstance(e, TradePrint) and e.taker is taker for e in events) >= len(liquidations)


def test_funding_divergence_offsets_one_venue() -> None:
    model = MarketModel(grids(*BINANCE_AND_BYBIT, symbols=("BTC-USDT-PERP",)), seed=13)
    model.inject(Fault(FaultKind.FUNDING_DIVERGENCE, venue=ExchangeId.BYBIT, magnitude=0.002, duration_s=5))
    model.step(T0)
    diverged = model.funding_rate(ExchangeId.BYBIT, "BTCUSDT") - model.funding_rate(
        ExchangeId.BINANCE_USDM, "BTCUSDT"
    )
    assert diverged > Decimal("0.0015")


def test_sequence_gap_suppresses_one_update_but_advances_the_ids() -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM, symbols=("BTC-USDT-PERP",)), seed=14)
    model.inject(Fault(FaultKind.SEQUENCE_GAP, venue=ExchangeId.BINANCE_USDM))
    changes = [e for e in run(model, 3) if isinstance(e, BookChange)]
    assert [c.suppressed for c in changes] == [True, False, False]
    assert changes[1].prev == changes[0].last


@pytest.mark.parametrize("kind", [FaultKind.DISCONNECT, FaultKind.STALL, FaultKind.REST_RATE_LIMIT])
def test_transport_faults_are_handed_to_the_server(kind: FaultKind) -> None:
    model = MarketModel(grids(ExchangeId.BINANCE_USDM), seed=15)
    model.inject(Fault(kind, duration_s=2))
    [fault] = [e for e in model.step(T0) if isinstance(e, TransportFault)]
    assert fault.kind is kind
    assert fault.venue is ExchangeId.BINANCE_USDM
    assert fault.duration_s == 2


def test_random_faults_are_reproducible() -> None:
    config = ModelConfig(fault_rate_per_min=120)  # two a second of model time
    first = [
        e
        for e in run(MarketModel(grids(*BINANCE_AND_BYBIT), seed=16, config=config), 300)
        if isinstance(e, TransportFault)
    ]
    again = [
        e
        for e in run(MarketModel(grids(*BINANCE_AND_BYBIT), seed=16, config=config), 300)
        if isinstance(e, TransportFault)
    ]
    assert first == again
    assert first  # some of the ~60 random faults in 30 s were transport faults
