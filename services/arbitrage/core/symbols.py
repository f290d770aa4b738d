"""Canonical symbols (``BASE-QUOTE-PERP``) and which legs may be compared with each other."""

from dataclasses import dataclass

# Quote currencies treated as one dollar when the user opts in to cross-quote comparison. The
# spread of such a pair then includes the stablecoin's own basis, which is why it is opt-in.
DOLLAR_QUOTES = frozenset({"USD", "USDT", "USDC"})


@dataclass(frozen=True, slots=True)
class SymbolParts:
    base: str
    quote: str


def split_symbol(symbol: str) -> SymbolParts:
    """``BTC-USDT-PERP`` -> (BTC, USDT); raises ValueError for anything else."""
    parts = symbol.split("-")
    if len(parts) != 3 or parts[2] != "PERP" or not parts[0] or not parts[1]:
        raise ValueError(f"not a canonical perpetual symbol: {symbol!r}")
    return SymbolParts(parts[0], parts[1])


def group_of(symbol: str, *, cross_quote: bool) -> str:
    """The join key of a leg: the symbol itself, or ``BASE/$`` for dollar quotes when opted in."""
    parts = split_symbol(symbol)
    if cross_quote and parts.quote in DOLLAR_QUOTES:
        return f"{parts.base}/$"
    return symbol
