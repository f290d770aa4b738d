"""The market-recorder's pure part: rows in table column order, trades once per id."""

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from schemas.examples import EXAMPLES
from schemas.market_data import Funding, Liquidation, OpenInterest, Trade
from services.market_recorder.core.dedupe import RecentTradeIds
from services.market_recorder.core.rows import (
    FUNDING_COLUMNS,
    LIQUIDATION_COLUMNS,
    OPEN_INTEREST_COLUMNS,
    TRADE_COLUMNS,
    funding_row,
    liquidation_row,
    open_interest_row,
    trade_row,
)
from services.runtime.timestamps import ns_to_datetime


def _example(topic: str) -> object:
    return EXAMPLES[topic]


def test_rows_follow_their_columns() -> None:
    trade = _example("md.trades.v1")
    assert isinstance(trade, Trade)
    row = dict(zip(TRADE_COLUMNS, trade_row(trade), strict=True))
    assert row["trade_id"] == trade.trade_id
    assert row["side"] == trade.side.value
    assert row["price"] == trade.price
    assert row["ts"] == ns_to_datetime(trade.exchange_ts)
    funding = _example("md.funding.v1")
    assert isinstance(funding, Funding)
    assert len(funding_row(funding)) == len(FUNDING_COLUMNS)
    oi = _example("md.open_interest.v1")
    assert isinstance(oi, OpenInterest)
    assert len(open_interest_row(oi)) == len(OPEN_INTEREST_COLUMNS)
    liquidation = _example("md.liquidations.v1")
    assert isinstance(liquidation, Liquidation)
    row = dict(zip(LIQUIDATION_COLUMNS, liquidation_row(liquidation), strict=True))
    assert row["quantity"] == liquidation.quantity
    assert isinstance(row["price"], Decimal)


def test_timestamps_truncate_to_microseconds() -> None:
    assert ns_to_datetime(1_723_161_256_322_999_999) == datetime(2024, 8, 8, 23, 54, 16, 322999, tzinfo=UTC)


@given(st.lists(st.sampled_from(["1", "2", "3", "4", "5"]), max_size=50))
def test_a_trade_id_is_first_seen_once_per_instrument(ids: list[str]) -> None:
    recent = RecentTradeIds(per_instrument=100)
    firsts = [i for i in ids if recent.first_time("binance_usdm:BTC-USDT-PERP", i)]
    assert firsts == list(dict.fromkeys(ids))
    assert all(recent.first_time("okx:BTC-USDT-PERP", i) for i in dict.fromkeys(ids))


def test_memory_is_bounded_and_old_ids_are_forgotten() -> None:
    recent = RecentTradeIds(per_instrument=2)
    assert recent.first_time("k", "a")
    assert recent.first_time("k", "b")
    assert recent.first_time("k", "c")  # evicts a
    assert not recent.first_time("k", "c")
    assert recent.first_time("k", "a")
