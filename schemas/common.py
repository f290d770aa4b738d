"""Field types shared by every topic contract.

Prices and quantities travel as decimal strings so that no consumer, in any language, loses
precision through a binary float. Timestamps are integer nanoseconds since the Unix epoch.
"""

from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

DECIMAL_PATTERN = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?$"
# Digits a decimal may have once written out (pydantic's max_digits): below 1e40 and no finer than
# 1e-40. Far beyond any price or size, but "1e999999" is finite and would be written out as a
# 1 MB event that no topic accepts, and "1e400" would be stored as a 401-digit price.
MAX_DECIMAL_DIGITS = 40
CANONICAL_SYMBOL_PATTERN = r"^[A-Z0-9]+-[A-Z0-9]+-PERP$"


def _decimal_to_wire(value: Decimal) -> str:
    return format(value, "f")


DecimalString = Annotated[
    Decimal,
    Field(max_digits=MAX_DECIMAL_DIGITS),
    PlainSerializer(_decimal_to_wire, return_type=str),
    WithJsonSchema({"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["61800.20"]}),
]
"""A decimal number carried as a string on the wire, e.g. ``"61800.20"``.

Producers always write strings. Readers parse leniently (a JSON number is accepted) because a
per-field validator costs more than the whole decode of a deep book frame.
"""

PositiveDecimal = Annotated[DecimalString, Field(gt=0)]
NonNegativeDecimal = Annotated[DecimalString, Field(ge=0)]
TimestampNs = Annotated[int, Field(ge=0, description="Nanoseconds since the Unix epoch (UTC).")]
CanonicalSymbol = Annotated[
    str,
    Field(
        pattern=CANONICAL_SYMBOL_PATTERN,
        description="Canonical instrument id BASE-QUOTE-PERP, e.g. BTC-USDT-PERP.",
        examples=["BTC-USDT-PERP"],
    ),
]


class ExchangeId(StrEnum):
    """The venues perpwatch ingests. The value is the id used in keys, rows and topics."""

    BINANCE_USDM = "binance_usdm"
    BINANCE_COINM = "binance_coinm"
    BYBIT = "bybit"
    OKX = "okx"
    KUCOIN_FUTURES = "kucoin_futures"
    DERIBIT = "deribit"
    BITMEX = "bitmex"
    GATEIO = "gateio"
    MEXC = "mexc"
    BITGET = "bitget"
    PHEMEX = "phemex"
    COINDCX = "coindcx"
    HYPERLIQUID = "hyperliquid"


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"


class InstrumentProvenance(StrEnum):
    """Where an event's instrument metadata came from."""

    LISTED = "listed"
    """The venue's instrument list (committed snapshot, refreshed cache or an imported file)."""
    DERIVED = "derived"
    """The venue's symbol naming rules, for a symbol missing from the list (base-unit venues only)."""


def _is_listed(value: "InstrumentProvenance") -> bool:
    return value is InstrumentProvenance.LISTED


class Contract(BaseModel):
    """Base of every topic payload: immutable, and strict about unknown fields.

    ``extra="forbid"`` makes a producer bug visible at the boundary instead of leaking an
    undocumented field into the public contract.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_enum_values=False)


class InstrumentEvent(Contract):
    """Fields every market-data event carries: who, what, and when."""

    exchange: ExchangeId
    symbol: CanonicalSymbol
    native_symbol: Annotated[str, Field(min_length=1, description="The venue's own symbol, e.g. BTCUSDT.")]
    exchange_ts: TimestampNs = Field(description="Event time stamped by the venue, ns.")
    receive_ts: TimestampNs = Field(description="Time perpwatch received the frame, ns.")
    instrument_provenance: InstrumentProvenance = Field(
        default=InstrumentProvenance.LISTED,
        # Left out of the payload when listed, so events of listed instruments stay as they were.
        exclude_if=_is_listed,
        description="derived: base, quote and multiplier were read from the symbol by the venue's naming "
        "rules because the symbol is not in the instrument list (absent: listed).",
    )

    @property
    def key(self) -> str:
        """Kafka key: events of one instrument on one venue share a partition, keeping order."""
        return f"{self.exchange.value}:{self.symbol}"
