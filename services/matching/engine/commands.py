"""Typed engine commands: what :meth:`MatchingEngine.process` accepts.

Prices and quantities are already integer ticks and lots here; the wire decoder
(:mod:`.wire`) produces these from JSON and turns anything it cannot convert into an
:class:`InvalidCommand`, which the engine answers with a sequenced rejection.  The
decoder is the type boundary: the engine validates values (ranges, codes, grid-free
rules) but trusts that fields have the annotated Python types.  Optional
fields use ``None`` for "omitted".  ``__slots__`` classes keep construction cheap for
the benchmark and the Kafka shell.
"""

from .constants import GTC, STP_NONE
from .symbols import SymbolSpec


class _Command:
    __slots__: tuple[str, ...] = ()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    __hash__ = None  # type: ignore[assignment]  # mutable value objects


class AddSymbol(_Command):
    __slots__ = ("spec", "symbol")

    def __init__(self, spec: SymbolSpec) -> None:
        self.spec = spec
        self.symbol = spec.symbol


class SubmitOrder(_Command):
    """A new order.  ``side``, ``order_type``, ``tif`` and ``stp`` are codes from
    :mod:`.constants`; ``display_quantity`` makes the order an iceberg."""

    __slots__ = (
        "account",
        "client_order_id",
        "display_quantity",
        "order_type",
        "price",
        "quantity",
        "side",
        "stop_price",
        "stp",
        "symbol",
        "tif",
    )

    def __init__(
        self,
        symbol: str,
        account: str,
        client_order_id: str,
        side: int,
        order_type: int,
        quantity: int,
        price: int | None = None,
        tif: int = GTC,
        stop_price: int | None = None,
        display_quantity: int | None = None,
        stp: int = STP_NONE,
    ) -> None:
        self.symbol = symbol
        self.account = account
        self.client_order_id = client_order_id
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.tif = tif
        self.stop_price = stop_price
        self.display_quantity = display_quantity
        self.stp = stp


class CancelOrder(_Command):
    __slots__ = ("account", "client_order_id", "symbol")

    def __init__(self, symbol: str, account: str, client_order_id: str) -> None:
        self.symbol = symbol
        self.account = account
        self.client_order_id = client_order_id


class AmendOrder(_Command):
    """New limit price and/or new *total* quantity (including what already filled)."""

    __slots__ = ("account", "client_order_id", "price", "quantity", "symbol")

    def __init__(
        self,
        symbol: str,
        account: str,
        client_order_id: str,
        price: int | None = None,
        quantity: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.account = account
        self.client_order_id = client_order_id
        self.price = price
        self.quantity = quantity


class InvalidCommand(_Command):
    """A command the decoder could not turn into a typed one.

    It still goes through the engine so the rejection gets a venue sequence number.
    ``request`` is the command type as far as it could be read (``""`` if not at all).
    """

    __slots__ = ("account", "client_order_id", "reason", "request", "symbol")

    def __init__(self, request: str, symbol: str, account: str, client_order_id: str, reason: str) -> None:
        self.request = request
        self.symbol = symbol
        self.account = account
        self.client_order_id = client_order_id
        self.reason = reason


Command = AddSymbol | SubmitOrder | CancelOrder | AmendOrder | InvalidCommand
