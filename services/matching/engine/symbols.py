"""Per-symbol trading rules, already converted to the engine's integer grid."""

from .constants import FEE_RATE_DENOMINATOR
from .decimals import format_decimal, format_scaled

# Bounded so a hostile stream of distinct prices cannot grow memory without limit.
_TEXT_CACHE_SIZE = 65_536


class SymbolSpec:
    """Trading rules of one symbol.

    Prices are integer ticks (``tick_mult * 10**-tick_exp`` each) and quantities integer
    lots (``lot_mult * 10**-lot_exp``).  Fee rates are in hundredths of a basis point so
    rates such as 2.5 bps stay integral.  Fees are integers of the *notional quantum*
    ``tick_size * lot_size``: ``price_ticks * qty_lots`` is the notional in that unit,
    so a fee is ``ceil(price_ticks * qty_lots * rate / 1_000_000)`` quanta.  Rounding is
    always toward +infinity: the venue never under-charges a fee nor over-pays a rebate.
    """

    __slots__ = (
        "_price_text",
        "_quantity_text",
        "lot_exp",
        "lot_mult",
        "maker_fee_rate",
        "min_qty",
        "price_band_bps",
        "reference_price",
        "symbol",
        "taker_fee_rate",
        "tick_exp",
        "tick_mult",
    )

    def __init__(
        self,
        symbol: str,
        tick_mult: int,
        tick_exp: int,
        lot_mult: int,
        lot_exp: int,
        min_qty: int,
        maker_fee_rate: int,
        taker_fee_rate: int,
        price_band_bps: int | None = None,
        reference_price: int | None = None,
    ) -> None:
        self.symbol = symbol
        self.tick_mult = tick_mult
        self.tick_exp = tick_exp
        self.lot_mult = lot_mult
        self.lot_exp = lot_exp
        self.min_qty = min_qty
        self.maker_fee_rate = maker_fee_rate
        self.taker_fee_rate = taker_fee_rate
        self.price_band_bps = price_band_bps
        self.reference_price = reference_price
        # Wire formatting caches: books revisit the same prices and sizes constantly.
        self._price_text: dict[int, str] = {}
        self._quantity_text: dict[int, str] = {}

    def problems(self) -> list[str]:
        """Codes saying why this configuration is unusable (empty when it is fine)."""
        problems = []
        if not self.symbol or len(self.symbol) > 64:
            problems.append("invalid_symbol")
        if self.tick_mult <= 0 or self.tick_exp < 0:
            problems.append("invalid_tick_size")
        if self.lot_mult <= 0 or self.lot_exp < 0:
            problems.append("invalid_lot_size")
        if self.min_qty < 1:
            problems.append("invalid_min_qty")
        if not -FEE_RATE_DENOMINATOR < self.maker_fee_rate < FEE_RATE_DENOMINATOR:
            problems.append("invalid_maker_fee_bps")
        if not 0 <= self.taker_fee_rate < FEE_RATE_DENOMINATOR:
            problems.append("invalid_taker_fee_bps")
        if self.maker_fee_rate + self.taker_fee_rate < 0:
            problems.append("maker_rebate_exceeds_taker_fee")
        if self.price_band_bps is not None and not 0 < self.price_band_bps < 10_000:
            problems.append("invalid_price_band_bps")
        if self.reference_price is not None and self.reference_price <= 0:
            problems.append("invalid_reference_price")
        return problems

    # Wire formatting -------------------------------------------------------------

    def format_price(self, ticks: int) -> str:
        text = self._price_text.get(ticks)
        if text is None:
            text = format_scaled(ticks * self.tick_mult, self.tick_exp)
            if len(self._price_text) < _TEXT_CACHE_SIZE:
                self._price_text[ticks] = text
        return text

    def format_quantity(self, lots: int) -> str:
        text = self._quantity_text.get(lots)
        if text is None:
            text = format_scaled(lots * self.lot_mult, self.lot_exp)
            if len(self._quantity_text) < _TEXT_CACHE_SIZE:
                self._quantity_text[lots] = text
        return text

    def format_fee(self, quanta: int) -> str:
        return format_scaled(quanta * self.tick_mult * self.lot_mult, self.tick_exp + self.lot_exp)

    def to_plain(self) -> dict[str, object]:
        """The configuration as plain data (snapshots, state hash, config echo)."""
        return {
            "symbol": self.symbol,
            "tick_size": format_decimal(self.tick_mult, self.tick_exp),
            "lot_size": format_decimal(self.lot_mult, self.lot_exp),
            "tick_mult": self.tick_mult,
            "tick_exp": self.tick_exp,
            "lot_mult": self.lot_mult,
            "lot_exp": self.lot_exp,
            "min_qty": self.min_qty,
            "maker_fee_rate": self.maker_fee_rate,
            "taker_fee_rate": self.taker_fee_rate,
            "price_band_bps": self.price_band_bps,
            "reference_price": self.reference_price,
        }

    @classmethod
    def from_plain(cls, plain: dict[str, object]) -> "SymbolSpec":
        """Inverse of :meth:`to_plain`; raises ``ValueError`` on a damaged record."""

        def integer(name: str) -> int:
            value = plain[name]
            if type(value) is not int:
                raise ValueError(f"symbol field {name!r} must be an int")
            return value

        def optional_integer(name: str) -> int | None:
            return None if plain.get(name) is None else integer(name)

        symbol = plain["symbol"]
        if type(symbol) is not str:
            raise ValueError("symbol must be a string")
        return cls(
            symbol,
            integer("tick_mult"),
            integer("tick_exp"),
            integer("lot_mult"),
            integer("lot_exp"),
            integer("min_qty"),
            integer("maker_fee_rate"),
            integer("taker_fee_rate"),
            optional_integer("price_band_bps"),
            optional_integer("reference_price"),
        )
