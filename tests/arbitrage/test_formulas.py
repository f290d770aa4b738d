"""Formulas on hand-computed books: VWAP over several levels, both legs' fees, thin books, contract
sizes and inverse contracts, funding normalized by each venue's own interval."""

import pytest

from services.arbitrage.core.engine import ArbConfig, ArbitrageEngine, Kind
from services.arbitrage.core.fees import FeeDocumentError, fee_table, parse_fee_document
from services.arbitrage.core.funding import FundingQuote, differential_apr
from services.arbitrage.core.lifecycle import Transition
from services.arbitrage.core.vwap import LadderSide, bare_vwap, walk_vwap
from tests.arbitrage.support import MS, SYMBOL, T0, config, opportunities

ASKS_A = [(100.0, 1.0), (101.0, 2.0), (102.0, 5.0)]
BIDS_A = [(99.9, 5.0)]
BIDS_B = [(103.0, 1.0), (102.5, 3.0)]
ASKS_B = [(103.1, 5.0)]


def test_vwap_walks_several_levels() -> None:
    side = LadderSide.of(ASKS_A)
    # 1 at 100 + 1.5 at 101 = 251.5 for 2.5
    assert walk_vwap(side, 2.5) == pytest.approx(100.6, abs=1e-12)
    assert bare_vwap(ASKS_A, 2.5) == pytest.approx(100.6, abs=1e-12)
    assert walk_vwap(side, 1.0) == 100.0
    assert walk_vwap(side, 8.0) == pytest.approx((100 + 202 + 510) / 8, abs=1e-12)
    assert walk_vwap(side, 8.0001) is None  # one more than the whole side: never a guess
    assert walk_vwap(side, 0.0) is None


def _pair(**overrides: object) -> ArbitrageEngine:
    engine = ArbitrageEngine(config(fees=fee_table({"okx": 5.0, "bybit": 5.5}), **overrides))
    engine.on_depth("okx", SYMBOL, T0, BIDS_A, ASKS_A)
    return engine


def test_executable_spread_subtracts_both_fees_over_several_levels() -> None:
    engine = _pair(notionals=(203.0, 1_000.0), sample_interval_ns=1)
    emitted = engine.on_depth("bybit", SYMBOL, T0 + 1 * MS, BIDS_B, ASKS_B)
    opened = [e for e in opportunities(emitted) if e.view.buy.exchange == "okx"]
    assert len(opened) == 1
    view = opened[0].view
    mid = ((99.9 + 100.0) / 2 + (103.0 + 103.1) / 2) / 2  # 101.5, the mean of the two mids
    assert view.mid == pytest.approx(mid)
    assert view.gross_bps == pytest.approx((103.0 - 100.0) / mid * 1e4)
    small, thin = view.fills
    # 203 quote / 101.5 = 2.0 base: buy 1 @ 100 + 1 @ 101, sell 1 @ 103 + 1 @ 102.5
    assert small.buy_vwap == pytest.approx(100.5)
    assert small.sell_vwap == pytest.approx(102.75)
    assert small.spread_bps == pytest.approx((102.75 - 100.5) / mid * 1e4 - 5.0 - 5.5)
    # 1000 quote = 9.85 base: more than okx's 8 on the asks
    assert thin.spread_bps is None
    assert thin.buy_vwap is None
    assert thin.sell_vwap is None  # and more than bybit's 4 on the bids
    assert opened[0].qualified_notional == 203.0


def test_fees_on_both_legs_at_the_touch() -> None:
    engine = _pair(notionals=(10.0,))
    emitted = engine.on_depth("bybit", SYMBOL, T0 + 1 * MS, BIDS_B, ASKS_B)
    view = opportunities(emitted)[0].view
    assert view.gross_bps is not None
    assert view.fills[0].spread_bps == pytest.approx(view.gross_bps - 10.5)
    assert (view.buy.fee_bps, view.sell.fee_bps) == (5.0, 5.5)


def test_too_thin_at_the_smallest_notional_opens_nothing() -> None:
    engine = _pair(notionals=(10_000.0,))
    emitted = engine.on_depth("bybit", SYMBOL, T0 + 1 * MS, BIDS_B, ASKS_B)
    assert opportunities(emitted) == []


def _contracts(levels: list[tuple[float, float]], contract_base: float) -> list[tuple[float, float]]:
    """A linear venue's levels in contracts, to base units (what the ingest normalizer does)."""
    return [(price, contracts * contract_base) for price, contracts in levels]


def _inverse(levels: list[tuple[float, float]], contract_usd: float) -> list[tuple[float, float]]:
    """An inverse venue's levels (contracts worth ``contract_usd`` each) to base units."""
    return [(price, contracts * contract_usd / price) for price, contracts in levels]


def test_contract_size_venue_and_inverse_venue_compare_in_base_units() -> None:
    # OKX BTC-USDT-SWAP: 0.01 BTC per contract. Binance COIN-M BTCUSD_PERP: 100 USD per contract.
    okx_asks = _contracts([(60_000.0, 10.0), (60_010.0, 50.0)], 0.01)  # 0.1 BTC, 0.5 BTC
    okx_bids = _contracts([(59_990.0, 100.0)], 0.01)
    coinm_bids = _inverse([(60_200.0, 120.0), (60_190.0, 600.0)], 100.0)  # 12,000 USD, 60,000 USD
    coinm_asks = _inverse([(60_210.0, 1000.0)], 100.0)
    engine = ArbitrageEngine(
        config(
            fees=fee_table({"okx": 5.0, "binance_coinm": 5.0}),
            notionals=(12_000.0, 60_000.0),
            cross_quote=True,
        )
    )
    engine.on_depth("okx", SYMBOL, T0, okx_bids, okx_asks)
    emitted = engine.on_depth("binance_coinm", "BTC-USD-PERP", T0 + 1 * MS, coinm_bids, coinm_asks)
    opened = opportunities(emitted)
    assert len(opened) == 1
    view = opened[0].view
    assert (view.buy.exchange, view.buy.quote, view.sell.exchange, view.sell.quote) == (
        "okx",
        "USDT",
        "binance_coinm",
        "USD",
    )
    mid = ((59_990.0 + 60_000.0) / 2 + (60_200.0 + 60_210.0) / 2) / 2
    quantity = 12_000.0 / mid  # ~0.19975 BTC
    buy_vwap = (0.1 * 60_000.0 + (quantity - 0.1) * 60_010.0) / quantity
    first_bid_base = 12_000.0 / 60_200.0  # ~0.19934 BTC, just short of the quantity
    sell_vwap = (first_bid_base * 60_200.0 + (quantity - first_bid_base) * 60_190.0) / quantity
    small, large = view.fills
    assert small.buy_vwap == pytest.approx(buy_vwap)
    assert small.sell_vwap == pytest.approx(sell_vwap)
    assert small.spread_bps == pytest.approx((sell_vwap - buy_vwap) / mid * 1e4 - 10.0)
    assert large.spread_bps is None  # 60,000 USDT is ~1 BTC; okx offers 0.6


def test_usd_and_usdt_contracts_are_not_compared_without_opt_in() -> None:
    engine = ArbitrageEngine(config(fees=fee_table({"okx": 5.0, "binance_coinm": 5.0})))
    engine.on_depth("okx", SYMBOL, T0, [(59_990.0, 1.0)], [(60_000.0, 1.0)])
    emitted = engine.on_depth("binance_coinm", "BTC-USD-PERP", T0, [(60_200.0, 1.0)], [(60_210.0, 1.0)])
    assert emitted == []
    assert engine.counters.evaluations == 0


def test_funding_uses_each_venues_interval() -> None:
    eight_hours = FundingQuote(ts=T0, rate=0.0001, interval_s=8 * 3600, next_funding_ts=T0 + 3_600_000 * MS)
    four_hours = FundingQuote(ts=T0, rate=0.0001, interval_s=4 * 3600, next_funding_ts=T0 + 600_000 * MS)
    one_hour = FundingQuote(ts=T0, rate=-0.00002, interval_s=3600, next_funding_ts=T0 + 60_000 * MS)
    assert eight_hours.rate_per_hour == pytest.approx(0.0000125)
    assert eight_hours.apr == pytest.approx(0.1095)
    assert four_hours.apr == pytest.approx(0.219)
    assert one_hour.apr == pytest.approx(-0.1752)
    # long the 8 h venue, short the 4 h one: receive 21.9 %, pay 10.95 %
    assert differential_apr(eight_hours, four_hours) == pytest.approx(0.1095)
    assert differential_apr(one_hour, four_hours) == pytest.approx(0.219 + 0.1752)
    with_basis = FundingQuote(T0, 0.0001, 28_800, T0, mark=61_790.1, index=61_821.8)
    assert with_basis.basis == pytest.approx((61_790.1 - 61_821.8) / 61_821.8)
    assert eight_hours.basis is None


def test_funding_opportunity_opens_on_the_differential() -> None:
    engine = ArbitrageEngine(config(funding_open_apr_bps=1_000.0, funding_close_apr_bps=500.0))
    engine.on_funding("okx", SYMBOL, FundingQuote(T0, 0.0001, 8 * 3600, T0 + 3_600_000 * MS))
    emitted = engine.on_funding("bybit", SYMBOL, FundingQuote(T0 + MS, 0.0001, 4 * 3600, T0 + 600_000 * MS))
    opened = opportunities(emitted)
    assert [(e.kind, e.transition, e.view.buy.exchange, e.view.sell.exchange) for e in opened] == [
        (Kind.FUNDING, Transition.OPENED, "okx", "bybit")
    ]
    assert opened[0].value == pytest.approx(1095.0)  # bps a year
    assert opened[0].view.differential_apr == pytest.approx(0.1095)
    emitted = engine.on_funding("bybit", SYMBOL, FundingQuote(T0 + 2 * MS, 0.00006, 4 * 3600, T0))
    closed = opportunities(emitted)
    assert [(e.transition, e.reason) for e in closed] == [(Transition.CLOSED, "converged")]


def test_fee_documents_are_checked() -> None:
    assert parse_fee_document({"_about": {"x": 1}, "okx": {"taker_bps": 5, "source": "s"}}) == {"okx": 5.0}
    bad: object
    for bad in (
        [],
        {"okx": 5},
        {"okx": {"taker_bps": "5"}},
        {"okx": {"taker_bps": -1}},
        {"": {"taker_bps": 1}},
    ):
        with pytest.raises(FeeDocumentError):
            parse_fee_document(bad)
    table = fee_table({"okx": 5.0, "bitmex": 7.5}, {"okx": 2.0})
    assert (table.taker("okx"), table.taker("bitmex"), table.taker("unknown")) == (2.0, 7.5, 7.5)


def test_config_rejects_contradictions() -> None:
    with pytest.raises(ValueError, match="ascending"):
        ArbConfig(notionals=(100.0, 10.0))
    with pytest.raises(ValueError, match="flap"):
        ArbConfig(open_bps=1.0, close_bps=2.0)
