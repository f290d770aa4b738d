"""perpwatch's own matching venue: its command topic and its output topics (``venue.*.v1``).

The payloads are exactly the JSON the matching core reads and writes (``perpwatch venue run``
prints the same lines): decimals are plain strings on the symbol's grid, kept as the exact text
so that ``"0.100"`` stays ``"0.100"``. Outputs carry ``seq``, the venue sequence, consecutive
per command partition (one matching engine per partition of ``venue.commands.v1``; a symbol
always lives on one partition because commands are keyed by symbol).
"""

from typing import Annotated, Literal

from pydantic import Field

from schemas.common import Contract

UNSIGNED_DECIMAL_PATTERN = r"^[0-9]{1,30}(\.[0-9]{1,30})?$"
SIGNED_DECIMAL_PATTERN = r"^-?[0-9]{1,30}(\.[0-9]{1,30})?$"

VenueDecimal = Annotated[
    str,
    Field(
        pattern=UNSIGNED_DECIMAL_PATTERN,
        description="Plain decimal string on the grid.",
        examples=["50000.0"],
    ),
]
SignedVenueDecimal = Annotated[
    str, Field(pattern=SIGNED_DECIMAL_PATTERN, description="Plain decimal string, may be negative.")
]
VenueId = Annotated[str, Field(min_length=1, max_length=64)]
EchoedId = Annotated[str, Field(max_length=64, description='Echo of the command\'s id; "" when unreadable.')]
VenueSeq = Annotated[int, Field(ge=1, description="Venue sequence, consecutive per command partition.")]

OrderSide = Literal["buy", "sell"]
OrderType = Literal["market", "limit", "stop_market", "stop_limit"]
TimeInForce = Literal["GTC", "IOC", "FOK", "POST_ONLY"]
SelfTradePrevention = Literal["none", "expire_taker", "expire_maker", "expire_both"]


class _Keyed(Contract):
    symbol: str

    @property
    def key(self) -> str:
        """Kafka key: the venue symbol, so one symbol's commands and outputs keep their order."""
        return self.symbol


# Commands (venue.commands.v1) ---------------------------------------------------------------


class AddSymbolCommand(_Keyed):
    """List a symbol: its tick/lot grid, fees and optional price band."""

    type: Literal["add_symbol"]
    symbol: VenueId
    tick_size: VenueDecimal
    lot_size: VenueDecimal
    min_qty: VenueDecimal | None = None
    maker_fee_bps: SignedVenueDecimal
    taker_fee_bps: SignedVenueDecimal
    price_band_bps: VenueDecimal | None = None
    reference_price: VenueDecimal | None = None


class SubmitCommand(_Keyed):
    """A new order. Client order ids are unique per account for the venue's lifetime."""

    type: Literal["submit"]
    symbol: VenueId
    account: VenueId
    client_order_id: VenueId
    side: OrderSide
    order_type: OrderType
    tif: TimeInForce | None = None
    price: VenueDecimal | None = None
    quantity: VenueDecimal
    stop_price: VenueDecimal | None = None
    display_quantity: VenueDecimal | None = None
    stp: SelfTradePrevention | None = None


class CancelCommand(_Keyed):
    type: Literal["cancel"]
    symbol: VenueId
    account: VenueId
    client_order_id: VenueId


class AmendCommand(_Keyed):
    """New price and/or new total quantity (including what already filled)."""

    type: Literal["amend"]
    symbol: VenueId
    account: VenueId
    client_order_id: VenueId
    price: VenueDecimal | None = None
    quantity: VenueDecimal | None = None


VenueCommand = Annotated[
    AddSymbolCommand | SubmitCommand | CancelCommand | AmendCommand, Field(discriminator="type")
]


# Outputs ------------------------------------------------------------------------------------


class VenueOrderEvent(_Keyed):
    """An order's state change (``venue.events.v1``), or a rejected request.

    A rejection (``status`` ``rejected``) carries only the ids, ``request`` and ``reason``.
    Otherwise ``filled_quantity + remaining_quantity + cancelled_quantity = quantity``.
    """

    kind: Literal["order"]
    seq: VenueSeq
    symbol: EchoedId
    account: EchoedId
    client_order_id: EchoedId
    status: Literal[
        "accepted", "partially_filled", "filled", "cancelled", "expired", "triggered", "amended", "rejected"
    ]
    order_id: int | None = Field(default=None, ge=1, description="Venue order id (absent on rejections).")
    side: OrderSide | None = None
    order_type: OrderType | None = None
    tif: TimeInForce | None = None
    price: VenueDecimal | None = None
    stop_price: VenueDecimal | None = None
    display_quantity: VenueDecimal | None = None
    stp: SelfTradePrevention | None = None
    quantity: VenueDecimal | None = None
    filled_quantity: VenueDecimal | None = None
    remaining_quantity: VenueDecimal | None = None
    cancelled_quantity: VenueDecimal | None = None
    request: Literal["submit", "cancel", "amend", ""] | None = Field(
        default=None, description="Rejections only: the request that was refused."
    )
    reason: str | None = Field(default=None, description="Stable reason code (expiries and rejections).")


class VenueSymbolEvent(_Keyed):
    """Result of ``add_symbol`` (``venue.events.v1``): the configuration echoed, or a reason."""

    kind: Literal["symbol"]
    seq: VenueSeq
    symbol: EchoedId
    status: Literal["added", "rejected"]
    reason: str | None = None
    tick_size: VenueDecimal | None = None
    lot_size: VenueDecimal | None = None
    min_qty: VenueDecimal | None = None
    maker_fee_bps: SignedVenueDecimal | None = None
    taker_fee_bps: SignedVenueDecimal | None = None
    price_band_bps: VenueDecimal | None = None
    reference_price: VenueDecimal | None = None


VenueOrderOrSymbolEvent = Annotated[VenueOrderEvent | VenueSymbolEvent, Field(discriminator="kind")]


class VenueTrade(_Keyed):
    """One fill at the maker's price (``venue.trades.v1``); fees in quote currency, rounded up."""

    kind: Literal["trade"]
    seq: VenueSeq
    symbol: VenueId
    trade_id: int = Field(ge=1, description="Per symbol's engine, consecutive.")
    price: VenueDecimal
    quantity: VenueDecimal
    aggressor_side: OrderSide
    maker_order_id: VenueId = Field(description="Maker's client order id.")
    taker_order_id: VenueId = Field(description="Taker's client order id.")
    maker_account: VenueId
    taker_account: VenueId
    maker_fee: SignedVenueDecimal
    taker_fee: SignedVenueDecimal


class VenueLevel(_Keyed):
    """A displayed level's new total (``venue.md.v1``); quantity zero means the level is gone."""

    kind: Literal["l2"]
    seq: VenueSeq
    symbol: VenueId
    l2_seq: int = Field(ge=1, description="Per symbol, gapless: a consumer detects a missed update.")
    side: Literal["bid", "ask"]
    price: VenueDecimal
    quantity: VenueDecimal


class VenueTop(_Keyed):
    """Top of book after a change (``venue.md.v1``); ``null`` for an empty side."""

    kind: Literal["bbo"]
    seq: VenueSeq
    symbol: VenueId
    l2_seq: int = Field(ge=0, description="The l2_seq this top is consistent with.")
    bid_price: VenueDecimal | None
    bid_quantity: VenueDecimal | None
    ask_price: VenueDecimal | None
    ask_quantity: VenueDecimal | None


class VenueDepthLevel(Contract):
    price: VenueDecimal
    quantity: VenueDecimal


class VenueDepth(_Keyed):
    """Every displayed level of one symbol (``venue.depth.v1``), published periodically by the venue.

    A consumer that starts reading after ``venue.md.v1``'s retention dropped the first ``l2``
    updates takes its depth from the latest of these (the topic is compacted by symbol): it is the
    book after ``l2_seq``, so the next ``l2`` update of the symbol is ``l2_seq + 1``. It takes no
    venue ``seq`` of its own.
    """

    kind: Literal["depth"]
    seq: int = Field(ge=1, description="The venue seq of the last event this depth includes (not a new one).")
    symbol: VenueId
    l2_seq: int = Field(ge=0, description="The last l2 update this depth includes.")
    bids: list[VenueDepthLevel] = Field(description="Best (highest) price first.")
    asks: list[VenueDepthLevel] = Field(description="Best (lowest) price first.")


# A new kind here would break consumers that validate this union: new record kinds get a topic.
VenueMarketData = Annotated[VenueLevel | VenueTop, Field(discriminator="kind")]
