"""SQL of the list endpoints: filters and pages as parameters, never text from a request.

Table and column names below are constants of this module; only values travel as parameters.
Every list fetches one row more than the page to know whether another page follows.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

Order = Literal["asc", "desc"]


@dataclass(frozen=True)
class ListQuery:
    limit: int
    offset: int
    exchange: str | None = None
    symbol: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    order: Order = "desc"


def utc(value: datetime | None) -> datetime | None:
    """A naive time from a query string is UTC, not the database session's zone."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass
class Select:
    source: str
    time_column: str = "ts"
    conditions: list[str] | None = None
    params: list[Any] | None = None

    def where(self, condition: str, *values: Any) -> "Select":
        self.conditions = [*(self.conditions or []), condition]
        self.params = [*(self.params or []), *values]
        return self

    def filtered(self, query: ListQuery, exchange_sql: str | None = "exchange = %s") -> "Select":
        if query.exchange is not None and exchange_sql is not None:
            self.where(exchange_sql, *([query.exchange] * exchange_sql.count("%s")))
        if query.symbol is not None:
            self.where("symbol = %s", query.symbol)
        if query.start is not None:
            self.where(f"{self.time_column} >= %s", utc(query.start))
        if query.end is not None:
            self.where(f"{self.time_column} < %s", utc(query.end))
        return self

    def page(self, query: ListQuery, order_by: str | None = None) -> tuple[str, list[Any]]:
        direction = "ASC" if query.order == "asc" else "DESC"
        order = order_by or f"{self.time_column} {direction}"
        where = f" WHERE {' AND '.join(self.conditions)}" if self.conditions else ""
        sql = f"SELECT * FROM ({self.source}) AS source{where} ORDER BY {order} LIMIT %s OFFSET %s"
        return sql, [*(self.params or []), query.limit + 1, query.offset]


LATEST_BBO = (
    "SELECT DISTINCT ON (exchange, symbol) exchange, symbol, ts, bid_price, bid_qty, ask_price, ask_qty,"
    " venue_seq FROM book_bbo{where} ORDER BY exchange, symbol, ts DESC, book_seq DESC"
)


def latest_prices(query: ListQuery) -> tuple[str, list[Any]]:
    """The newest book_bbo row per (exchange, symbol), as of ``end`` and not older than ``start``."""
    inner = Select("book_bbo").filtered(query)
    where = f" WHERE {' AND '.join(inner.conditions)}" if inner.conditions else ""
    sql = (
        f"SELECT * FROM ({LATEST_BBO.format(where=where)}) AS latest"
        " ORDER BY symbol, exchange LIMIT %s OFFSET %s"
    )
    return sql, [*(inner.params or []), query.limit + 1, query.offset]


def latest_book(exchange: str, symbol: str, levels: int, end: datetime | None) -> tuple[str, list[Any]]:
    params: list[Any] = [levels, levels, levels, levels, exchange, symbol]
    at = ""
    if end is not None:
        at = " AND ts < %s"
        params.append(utc(end))
    sql = (
        "SELECT exchange, symbol, ts, venue_seq, book_seq, bid_prices[1:%s] AS bid_prices,"
        " bid_qtys[1:%s] AS bid_qtys, ask_prices[1:%s] AS ask_prices, ask_qtys[1:%s] AS ask_qtys"
        f" FROM book_depth WHERE exchange = %s AND symbol = %s{at} ORDER BY ts DESC, book_seq DESC LIMIT 1"
    )
    return sql, params


CANDLES = (
    "SELECT exchange, symbol, ts, interval_s, open, high, low, close, volume, notional, trade_count,"
    " buy_volume, sell_volume FROM candles"
)
FUNDING = "SELECT exchange, symbol, ts, rate, interval_s, next_funding_ts, mark_price, index_price FROM funding_rates"
OPEN_INTEREST = "SELECT exchange, symbol, ts, open_interest, open_interest_notional FROM open_interest"
ARB_COLUMNS = (
    "ts, opportunity_id, seq, event, kind, symbol, buy_exchange, sell_exchange, sell_symbol, opened_ts,"
    " closed_ts, duration_ms, value_bps, peak_bps, notional, gross_spread_bps, notionals, executable_bps,"
    " funding_differential_apr, buy_fee_bps, sell_fee_bps, reason"
)
ARB_OPEN = f"SELECT {ARB_COLUMNS} FROM arb_open_opportunities"
ARB_EVENTS = f"SELECT {ARB_COLUMNS} FROM arb_opportunities"
ARB_SPREADS = (
    "SELECT ts, symbol, buy_exchange, sell_exchange, sell_symbol, gross_spread_bps, mid, notionals,"
    " executable_bps, funding_differential_apr, guard FROM arb_spreads"
)
ARB_EXCHANGE = "(buy_exchange = %s OR sell_exchange = %s)"
BANDS_BPS = (10, 25, 50, 100)
LIQUIDITY = (
    "SELECT ts, exchange, symbol, best_bid, best_ask, mid, spread_bps, imbalance, buy_slippage_bps,"
    " sell_slippage_bps, spread_z, depth_z, crunch_active, "
    + ", ".join(
        f"{side}_{what}_{bps}bps"
        for bps in BANDS_BPS
        for side in ("bid", "ask")
        for what in ("depth", "notional")
    )
    + " FROM liquidity_metrics"
)
LIQUIDITY_ANOMALIES = (
    "SELECT ts, exchange, symbol, phase, crunch_id, started_ts, ended_ts, duration_s, severity,"
    " severity_score, peak_spread_z, peak_depth_z FROM liquidity_anomalies"
)
ALERTS = (
    "SELECT event_ts AS ts, idempotency_key, fingerprint, status, rule_id, rule_name, severity, labels,"
    " metric, condition, threshold, value, starts_at, ends_at, reminder, summary, suppressed,"
    " labels->>'exchange' AS exchange, labels->>'symbol' AS symbol FROM alert_history"
)


def liquidity_bands(row: dict[str, Any]) -> dict[str, Any]:
    """The flat band columns of a liquidity_metrics row as a list of bands."""
    bands = [
        {
            "bps": bps,
            "bid_depth": row.pop(f"bid_depth_{bps}bps"),
            "ask_depth": row.pop(f"ask_depth_{bps}bps"),
            "bid_notional": row.pop(f"bid_notional_{bps}bps"),
            "ask_notional": row.pop(f"ask_notional_{bps}bps"),
        }
        for bps in BANDS_BPS
    ]
    return {**row, "bands": bands}
