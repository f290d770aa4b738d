"""Core outputs -> ``arb.*`` contracts and database rows (the shell's side of the boundary).

Floats become decimal strings here, once: spreads and APRs in bps to 4 decimals, prices and
rates to 12 significant digits, so a replay writes identical text.
"""

from decimal import Decimal
from typing import Any

from schemas.arbitrage import (
    ArbLeg,
    ArbOpportunity,
    ArbSpread,
    ExecutableSpread,
    LegFunding,
    OpportunityEventType,
    OpportunityKind,
)
from schemas.common import ExchangeId
from schemas.trusted import build
from services.arbitrage.core.engine import LegView, OpportunityEvent, PairView, SpreadSample
from services.arbitrage.core.lifecycle import Transition
from services.runtime.sink import Table, ns_to_datetime

ARB_OPPORTUNITIES = Table(
    "arb_opportunities",
    (
        "ts",
        "opportunity_id",
        "seq",
        "event",
        "kind",
        "symbol",
        "buy_exchange",
        "sell_exchange",
        "sell_symbol",
        "buy_quote",
        "sell_quote",
        "first_seen_ts",
        "opened_ts",
        "closed_ts",
        "duration_ms",
        "value_bps",
        "peak_bps",
        "peak_ts",
        "notional",
        "gross_spread_bps",
        "notionals",
        "executable_bps",
        "funding_differential_apr",
        "buy_fee_bps",
        "sell_fee_bps",
        "reason",
    ),
)
ARB_SPREADS = Table(
    "arb_spreads",
    (
        "ts",
        "symbol",
        "buy_exchange",
        "sell_exchange",
        "sell_symbol",
        "gross_spread_bps",
        "mid",
        "notionals",
        "executable_bps",
        "buy_funding_apr",
        "sell_funding_apr",
        "funding_differential_apr",
        "buy_basis",
        "sell_basis",
        "guard",
    ),
)


def bps(value: float) -> Decimal:
    return Decimal(f"{value:.4f}")


def number(value: float) -> Decimal:
    return Decimal(format(value, ".12g"))


def _optional(value: float | None) -> Decimal | None:
    return None if value is None else number(value)


def _leg(view: LegView, ts: int) -> ArbLeg:
    funding = None
    if view.funding is not None:
        quote = view.funding
        basis = quote.basis
        funding = build(
            LegFunding,
            {
                "exchange_ts": quote.ts,
                "rate": number(quote.rate),
                "interval_s": quote.interval_s,
                "rate_per_hour": number(quote.rate_per_hour),
                "apr": number(quote.apr),
                "next_funding_ts": quote.next_funding_ts,
                "time_to_funding_ms": (quote.next_funding_ts - ts) // 1_000_000,
                "basis": None if basis is None else number(basis),
            },
        )
    quoted = view.best_bid > 0.0 and view.best_ask > 0.0
    return build(
        ArbLeg,
        {
            "exchange": ExchangeId(view.exchange),
            "symbol": view.symbol,
            "quote": view.quote,
            "taker_fee_bps": number(view.fee_bps),
            "book_ts": view.book_ts if view.book_ts >= 0 else None,
            "best_bid": number(view.best_bid) if quoted else None,
            "best_ask": number(view.best_ask) if quoted else None,
            "funding": funding,
        },
    )


def _pair_fields(view: PairView) -> dict[str, Any]:
    return {
        "symbol": view.buy.symbol,
        "ts": view.ts,
        "buy": _leg(view.buy, view.ts),
        "sell": _leg(view.sell, view.ts),
        "gross_spread_bps": None if view.gross_bps is None else bps(view.gross_bps),
        "mid": _optional(view.mid),
        "executable": [
            build(
                ExecutableSpread,
                {
                    "notional": number(fill.notional),
                    "spread_bps": None if fill.spread_bps is None else bps(fill.spread_bps),
                    "buy_vwap": _optional(fill.buy_vwap),
                    "sell_vwap": _optional(fill.sell_vwap),
                },
            )
            for fill in view.fills
        ],
        "funding_differential_apr": _optional(view.differential_apr),
    }


def opportunity_event(event: OpportunityEvent) -> ArbOpportunity:
    closed = event.transition is Transition.CLOSED
    values = _pair_fields(event.view)
    values.update(
        {
            "opportunity_id": event.opportunity_id,
            "event": OpportunityEventType(event.transition.value),
            "kind": OpportunityKind(event.kind.value),
            "seq": event.seq,
            "first_seen_ts": event.first_seen_ts,
            "opened_ts": event.opened_ts,
            "closed_ts": event.ts if closed else None,
            "duration_ms": (event.ts - event.opened_ts) // 1_000_000 if closed else None,
            "value_bps": bps(event.value),
            "peak_bps": bps(event.peak),
            "peak_ts": event.peak_ts,
            "notional": _optional(event.qualified_notional),
            "reason": event.reason,
        }
    )
    return build(ArbOpportunity, values)


def spread_event(sample: SpreadSample) -> ArbSpread:
    values = _pair_fields(sample.view)
    values["guard"] = sample.guard
    return build(ArbSpread, values)


def opportunity_row(event: ArbOpportunity) -> tuple[Any, ...]:
    return (
        ns_to_datetime(event.ts),
        event.opportunity_id,
        event.seq,
        event.event.value,
        event.kind.value,
        event.symbol,
        event.buy.exchange.value,
        event.sell.exchange.value,
        event.sell.symbol,
        event.buy.quote,
        event.sell.quote,
        ns_to_datetime(event.first_seen_ts),
        ns_to_datetime(event.opened_ts),
        None if event.closed_ts is None else ns_to_datetime(event.closed_ts),
        event.duration_ms,
        event.value_bps,
        event.peak_bps,
        ns_to_datetime(event.peak_ts),
        event.notional,
        event.gross_spread_bps,
        [fill.notional for fill in event.executable],
        [fill.spread_bps for fill in event.executable],
        event.funding_differential_apr,
        event.buy.taker_fee_bps,
        event.sell.taker_fee_bps,
        event.reason,
    )


def spread_row(event: ArbSpread) -> tuple[Any, ...]:
    buy_funding, sell_funding = event.buy.funding, event.sell.funding
    return (
        ns_to_datetime(event.ts),
        event.symbol,
        event.buy.exchange.value,
        event.sell.exchange.value,
        event.sell.symbol,
        event.gross_spread_bps,
        event.mid,
        [fill.notional for fill in event.executable],
        [fill.spread_bps for fill in event.executable],
        None if buy_funding is None else buy_funding.apr,
        None if sell_funding is None else sell_funding.apr,
        event.funding_differential_apr,
        None if buy_funding is None else buy_funding.basis,
        None if sell_funding is None else sell_funding.basis,
        event.guard,
    )
