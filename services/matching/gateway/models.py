"""The gateway's REST bodies. Order fields keep the contract's types (``schemas.venue``).

Requests never carry ``account``: the gateway sets it from the API key, so a client cannot
trade for another account.
"""

from datetime import datetime
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.venue import (
    OrderSide,
    OrderType,
    SelfTradePrevention,
    TimeInForce,
    VenueDecimal,
)

# Printable ASCII without spaces, checked at the door: a symbol with NUL was once accepted (202)
# but could not be stored, so its order could never be read back.
ID_PATTERN = r"^[!-~]+$"
RequestId = Annotated[str, Field(min_length=1, max_length=64, pattern=ID_PATTERN)]


class _Request(BaseModel):
    # Unknown fields are refused, as the engine does: a typo must not drop an instruction.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmitOrderRequest(_Request):
    """A new order; prices and quantities are decimal strings on the symbol's grid."""

    symbol: RequestId = Field(examples=["BTC-USDT"])
    client_order_id: RequestId | None = Field(
        default=None,
        description="Unique per account for the venue's lifetime; generated when absent.",
    )
    side: OrderSide
    order_type: OrderType
    tif: TimeInForce | None = None
    price: VenueDecimal | None = None
    quantity: VenueDecimal
    stop_price: VenueDecimal | None = None
    display_quantity: VenueDecimal | None = None
    stp: SelfTradePrevention | None = None


class AmendOrderRequest(_Request):
    """New price and/or new total quantity (including what already filled)."""

    symbol: RequestId
    price: VenueDecimal | None = None
    quantity: VenueDecimal | None = None

    @model_validator(mode="after")
    def _changes_something(self) -> Self:
        if self.price is None and self.quantity is None:
            raise ValueError("an amend needs price, quantity or both")
        return self


class CommandAccepted(BaseModel):
    """The command is durably on ``venue.commands.v1``; its outcome arrives as order events."""

    command_id: str = Field(description="Generated id, also the record's `command_id` Kafka header.")
    type: Literal["submit", "cancel", "amend"]
    symbol: str
    account: str
    client_order_id: str
    partition: int = Field(description="Partition of venue.commands.v1 that holds the command.")
    offset: int = Field(description="Offset of the command in that partition.")


class OrderStatus(BaseModel):
    """An order's latest state as recorded in ``venue_orders``."""

    symbol: str
    account: str
    client_order_id: str
    order_id: int | None
    status: str
    side: str | None
    order_type: str | None
    tif: str | None
    price: str | None
    stop_price: str | None
    quantity: str | None
    filled_quantity: str | None
    remaining_quantity: str | None
    cancelled_quantity: str | None
    request: str | None = Field(description="Rejections only: the refused request.")
    reason: str | None
    seq: int = Field(description="Venue sequence of the event this state comes from.")
    updated_at: datetime = Field(description="Kafka timestamp of that event.")


class Bbo(BaseModel):
    symbol: str
    seq: int
    l2_seq: int
    bid_price: str | None
    bid_quantity: str | None
    ask_price: str | None
    ask_quantity: str | None


class DepthLevel(BaseModel):
    price: str
    quantity: str


class Depth(BaseModel):
    symbol: str
    seq: int = Field(description="Venue sequence of the last update applied.")
    l2_seq: int = Field(description="The symbol's l2_seq this depth is consistent with.")
    complete: bool = Field(
        description="False when the gateway missed l2 updates (venue.md.v1 retention or a gap)."
    )
    bids: list[DepthLevel] = Field(description="Best (highest) first.")
    asks: list[DepthLevel] = Field(description="Best (lowest) first.")
