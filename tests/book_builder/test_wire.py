"""The book-builder's ``book.l2.v1`` encoder writes the bytes pydantic writes, for any valid event.

The real capture's depth events are compared in test_service.py; here the cases it lacks.
"""

from decimal import Decimal

import pytest

from schemas.book import BookDepth, BookStatus
from schemas.common import ExchangeId, InstrumentProvenance
from services.book_builder.wire import decimal_to_wire, encode_book_depth


@pytest.mark.parametrize(
    "text",
    [
        "61800.20",
        "0.001",
        "100",
        "1E+2",
        "1.5E+3",
        "0.0000001",
        "1E-7",
        "0E-8",
        "0",
        "0.000",
        "12345678901234567890",
    ],
)
def test_decimals_are_written_in_fixed_point_like_the_contract(text: str) -> None:
    value = Decimal(text)
    assert decimal_to_wire(value) == format(value, "f")


def _depth(**changes: object) -> BookDepth:
    fields: dict[str, object] = {
        "exchange": ExchangeId.OKX,
        "symbol": "BTC-USDT-PERP",
        "native_symbol": "BTC-USDT-SWAP",
        "exchange_ts": 1,
        "receive_ts": 2,
        "status": BookStatus.VALID,
        "book_seq": 3,
        "venue_seq": 4,
        "depth": 2,
        "bids": [(Decimal("1E+2"), Decimal("0E-8")), (Decimal("99.5"), Decimal("0.0000001"))],
        "asks": [(Decimal("100.5"), Decimal("2"))],
    }
    return BookDepth.model_validate({**fields, **changes})


@pytest.mark.parametrize(
    "event",
    [
        _depth(),
        _depth(instrument_provenance=InstrumentProvenance.DERIVED, venue_seq=None),
        _depth(status=BookStatus.INVALID, reason='gap: "é" \u2028 \\ 5..9', bids=[], asks=[]),
    ],
)
def test_events_are_encoded_byte_for_byte_as_pydantic_encodes_them(event: BookDepth) -> None:
    assert encode_book_depth(event) == event.model_dump_json().encode()
