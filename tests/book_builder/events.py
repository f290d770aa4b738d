"""Building book events for tests, in the Binance id scheme unless told otherwise."""

from decimal import Decimal

from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSequence, BookSnapshot

IDS = {"exchange": ExchangeId.BINANCE_USDM, "symbol": "BTC-USDT-PERP", "native_symbol": "BTCUSDT"}
Levels = list[tuple[str, str]] | tuple[tuple[str, str], ...]


def levels(raw: Levels) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(p), Decimal(q)) for p, q in raw]


def snapshot(
    last: int,
    bids: Levels = (),
    asks: Levels = (),
    *,
    ts: int = 1,
    checksum: int | None = None,
    exchange: ExchangeId = ExchangeId.BINANCE_USDM,
) -> BookSnapshot:
    return BookSnapshot(
        **{**IDS, "exchange": exchange},
        exchange_ts=ts,
        receive_ts=ts,
        sequence=BookSequence(last=last),
        bids=levels(bids),
        asks=levels(asks),
        checksum=checksum,
    )


def delta(
    first: int | None,
    last: int,
    prev: int | None,
    bids: Levels = (),
    asks: Levels = (),
    *,
    ts: int = 2,
    checksum: int | None = None,
    exchange: ExchangeId = ExchangeId.BINANCE_USDM,
) -> BookDelta:
    return BookDelta(
        **{**IDS, "exchange": exchange},
        exchange_ts=ts,
        receive_ts=ts,
        sequence=BookSequence(first=first, last=last, prev=prev),
        bids=levels(bids),
        asks=levels(asks),
        checksum=checksum,
    )
