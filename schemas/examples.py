"""One realistic example payload per topic, taken from real Binance USD-M frames of 2024-08-08.

These are written to ``schemas/examples/`` by ``python -m schemas.generate`` and validated
against the JSON Schemas by the test suite, so the documentation cannot drift from the code.
"""

from decimal import Decimal

from schemas.book import BookDepth, BookStatus, BookTop
from schemas.common import Contract, ExchangeId, Side
from schemas.dead_letter import DeadLetter
from schemas.market_data import (
    BestBidOffer,
    BookDelta,
    BookSequence,
    Candle,
    ConnectorState,
    ConnectorStatus,
    Funding,
    Liquidation,
    OpenInterest,
    Trade,
)

_BINANCE = {
    "exchange": ExchangeId.BINANCE_USDM,
    "symbol": "BTC-USDT-PERP",
    "native_symbol": "BTCUSDT",
}
_TS = 1_723_161_256_322_000_000
_RECEIVED = 1_723_161_256_331_512_840

EXAMPLES: dict[str, Contract] = {
    "md.trades.v1": Trade(
        **_BINANCE,
        exchange_ts=_TS,
        receive_ts=_RECEIVED,
        trade_id="5266583935",
        side=Side.BUY,
        price=Decimal("61800.30"),
        quantity=Decimal("0.006"),
        notional=Decimal("370.80180"),
    ),
    "md.book.v1": BookDelta(
        **_BINANCE,
        exchange_ts=1_723_161_256_299_000_000,
        receive_ts=1_723_161_256_307_314_667,
        sequence=BookSequence(first=5123107832006, last=5123107837557, prev=5123107831937),
        bids=[(Decimal("61800.20"), Decimal("2.507")), (Decimal("61739.00"), Decimal("0.000"))],
        asks=[(Decimal("61800.30"), Decimal("3.330")), (Decimal("61814.90"), Decimal("0.000"))],
    ),
    "md.bbo.v1": BestBidOffer(
        **_BINANCE,
        exchange_ts=1_723_161_256_313_000_000,
        receive_ts=1_723_161_256_324_169_167,
        bid_price=Decimal("61800.20"),
        bid_quantity=Decimal("2.507"),
        ask_price=Decimal("61800.30"),
        ask_quantity=Decimal("2.510"),
        sequence=5123107839020,
    ),
    "md.funding.v1": Funding(
        **_BINANCE,
        exchange_ts=1_723_161_257_000_000_000,
        receive_ts=1_723_161_257_010_000_000,
        rate=Decimal("0.00010000"),
        interval_s=8 * 3600,
        next_funding_ts=1_723_190_400_000_000_000,
        mark_price=Decimal("61790.10000000"),
        index_price=Decimal("61821.81893617"),
    ),
    "md.open_interest.v1": OpenInterest(
        **_BINANCE,
        exchange_ts=1_723_161_257_000_000_000,
        receive_ts=1_723_161_257_020_000_000,
        open_interest=Decimal("79844.154"),
        open_interest_notional=Decimal("4934204556.5"),
    ),
    "md.liquidations.v1": Liquidation(
        **_BINANCE,
        exchange_ts=1_723_161_260_101_000_000,
        receive_ts=1_723_161_260_110_000_000,
        side=Side.SELL,
        price=Decimal("61750.00"),
        quantity=Decimal("0.250"),
        notional=Decimal("15437.50000"),
    ),
    "md.candles.v1": Candle(
        **_BINANCE,
        exchange_ts=1_723_161_240_000_000_000,
        receive_ts=1_723_161_300_004_000_000,
        interval_s=60,
        close_ts=1_723_161_299_999_999_999,
        open=Decimal("61800.30"),
        high=Decimal("61842.00"),
        low=Decimal("61766.10"),
        close=Decimal("61801.50"),
        volume=Decimal("312.418"),
        notional=Decimal("19307112.6231"),
        trade_count=4120,
        closed=True,
    ),
    "md.status.v1": ConnectorStatus(
        exchange=ExchangeId.BINANCE_USDM,
        connection_id="binance_usdm-1",
        state=ConnectorState.CONNECTED,
        detail="subscribed 3 streams",
        symbols=["BTC-USDT-PERP"],
        ts=1_723_161_255_000_000_000,
    ),
    "book.bbo.v1": BookTop(
        **_BINANCE,
        exchange_ts=1_723_161_256_299_000_000,
        receive_ts=1_723_161_256_307_314_667,
        venue_seq=5123107837557,
        book_seq=1,
        bid_price=Decimal("61800.20"),
        bid_quantity=Decimal("2.507"),
        ask_price=Decimal("61800.30"),
        ask_quantity=Decimal("3.330"),
    ),
    "book.l2.v1": BookDepth(
        **_BINANCE,
        exchange_ts=1_723_161_256_299_000_000,
        receive_ts=1_723_161_256_307_314_667,
        status=BookStatus.VALID,
        book_seq=1,
        venue_seq=5123107837557,
        depth=3,
        bids=[
            (Decimal("61800.20"), Decimal("2.507")),
            (Decimal("61800.10"), Decimal("0.061")),
            (Decimal("61800.00"), Decimal("0.390")),
        ],
        asks=[
            (Decimal("61800.30"), Decimal("3.330")),
            (Decimal("61800.40"), Decimal("0.004")),
            (Decimal("61800.50"), Decimal("0.152")),
        ],
    ),
    "dlq.v1": DeadLetter(
        service="book-builder",
        source="md.book.v1",
        partition=3,
        offset=1842,
        key="binance_usdm:BTC-USDT-PERP",
        error_type="validation_error",
        error="bids.0.0: Input should be greater than 0",
        payload_text='{"exchange":"binance_usdm","bids":[["-1","2"]]}',
        ts=1_723_161_256_400_000_000,
    ),
}
