"""Instrument metadata (contract size, tick, lot, linear or inverse), available offline.

The snapshots (``services/venues/<exchange>/instruments.json``, one per venue) are versioned in the repo so that normalization never needs a
venue to be reachable; ingestors refresh it from the venues' instrument endpoints when they can.
"""

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from schemas.common import ExchangeId
from services.venues import instruments_resource, registered_venues


@dataclass(frozen=True)
class Instrument:
    exchange: ExchangeId
    native_symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal
    contract_size: Decimal
    """Base units per contract for linear contracts; quote units per contract for inverse ones."""
    inverse: bool
    multiplier: Decimal = Decimal(1)
    """How many base units one quoted unit is, e.g. 1000 for 1000PEPEUSDT."""
    funding_interval_s: int = 8 * 3600
    derived: bool = False
    """True when read from the symbol by the venue's naming rules (``naming.py``), not from the
    venue's instrument list: its tick and lot sizes are then unknown (0)."""

    @property
    def symbol(self) -> str:
        return f"{self.base}-{self.quote}-PERP"

    def base_quantity(self, venue_quantity: Decimal, price: Decimal) -> Decimal:
        """Quantity in base units from the venue's quantity (contracts, or base for contract size 1)."""
        if self.inverse:
            # An inverse contract is worth contract_size quote units: base = contracts * size / price.
            return venue_quantity * self.contract_size / price
        return venue_quantity * self.contract_size * self.multiplier

    def base_price(self, venue_price: Decimal) -> Decimal:
        """Price per one base unit (a 1000PEPE price is for 1000 PEPE)."""
        return venue_price / self.multiplier if self.multiplier != 1 else venue_price

    def base_level(self, venue_price: Decimal, venue_quantity: Decimal) -> tuple[Decimal, Decimal]:
        """One book level in base units: (price per base unit, quantity in base units)."""
        return self.base_price(venue_price), self.base_quantity(venue_quantity, venue_price)

    def notional(self, venue_quantity: Decimal, price: Decimal) -> Decimal:
        if self.inverse:
            return venue_quantity * self.contract_size
        return venue_quantity * self.contract_size * price


class UnknownInstrument(KeyError):
    pass


# Venues whose quantities are contracts: their instrument list is what tells a contract's size.
_CONTRACT_VENUE_HINT = (
    "{exchange} quantities are contracts and no symbol tells a contract's size; if it is a perpetual, "
    "save the venue's instrument list (`perpwatch instruments endpoint --exchange {exchange}`) and "
    "run `perpwatch instruments import --exchange {exchange} FILE`, or pass it with --instruments FILE"
)


class InstrumentCatalog:
    """Instruments by venue and native symbol.

    A symbol missing from the lists is derived from its venue's naming rule where the venue has
    one (base-unit venues, ``naming.NAMING_RULES``); ``naming_rules={}`` turns derivation off.
    """

    def __init__(
        self,
        instruments: list[Instrument],
        version: str,
        naming_rules: Mapping[ExchangeId, Callable[[str], Instrument]] | None = None,
    ) -> None:
        self.version = version
        self._by_native = {(i.exchange, i.native_symbol): i for i in instruments}
        if naming_rules is None:
            from services.instruments.naming import NAMING_RULES  # naming builds on this module

            naming_rules = NAMING_RULES
        self._naming_rules = naming_rules
        self._derived: dict[tuple[ExchangeId, str], Instrument] = {}

    def lists(self, exchange: ExchangeId, native_symbol: str) -> bool:
        """Whether the venue's instrument list has this symbol (derived ones are not listed)."""
        return (exchange, native_symbol) in self._by_native

    def get(self, exchange: ExchangeId, native_symbol: str) -> Instrument:
        key = (exchange, native_symbol)
        found = self._by_native.get(key) or self._derived.get(key)
        if found is not None:
            return found
        missing = (
            f"{exchange.value} {native_symbol!r} is not in the instrument list ({self._version_of(exchange)})"
        )
        rule = self._naming_rules.get(exchange)
        if rule is None:
            raise UnknownInstrument(f"{missing}; {_CONTRACT_VENUE_HINT.format(exchange=exchange.value)}")
        try:
            derived = rule(native_symbol)
        except ValueError as exc:
            raise UnknownInstrument(f"{missing}, and {exc}") from None
        self._derived[key] = derived
        return derived

    def _version_of(self, exchange: ExchangeId) -> str:
        """The venue's part of ``version`` (``okx@2026-11-21.1``), which lists every venue's."""
        mine = [part for part in self.version.split(", ") if part.startswith(f"{exchange.value}@")]
        return ", ".join(mine) or "no snapshot"

    def derived(self) -> list[Instrument]:
        """Instruments derived from naming rules so far, in the order first met."""
        return list(self._derived.values())

    def overlaid(self, instruments: list[Instrument], source: str) -> "InstrumentCatalog":
        """This catalog with ``instruments`` added, replacing listed ones of the same native symbol."""
        merged = {**self._by_native, **{(i.exchange, i.native_symbol): i for i in instruments}}
        return InstrumentCatalog(list(merged.values()), f"{self.version}, {source}", self._naming_rules)

    def __len__(self) -> int:
        return len(self._by_native)

    def instruments(self, exchange: ExchangeId) -> list[Instrument]:
        return [i for (venue, _), i in self._by_native.items() if venue is exchange]

    def resolve(self, exchange: ExchangeId, symbols: list[str]) -> list[Instrument]:
        """Instruments for symbols given natively (BTCUSDT) or canonically (BTC-USDT-PERP)."""
        known = self.instruments(exchange)
        by_native = {i.native_symbol: i for i in known}
        by_canonical = {i.symbol: i for i in known}
        resolved: list[Instrument] = []
        for symbol in symbols:
            instrument = by_native.get(symbol) or by_canonical.get(symbol.upper())
            if instrument is None and exchange in self._naming_rules:
                try:
                    instrument = self.get(exchange, symbol)
                except UnknownInstrument:
                    instrument = None
            if instrument is None:
                choices = ", ".join(sorted(by_native)) or "none"
                raise ValueError(f"unknown {exchange.value} symbol {symbol!r}; known: {choices}")
            if instrument not in resolved:
                resolved.append(instrument)
        return resolved


def load_snapshot(cache_dir: Path | None = None) -> InstrumentCatalog:
    """Every venue's committed snapshot (``services/venues/<exchange>/instruments.json``), overlaid with
    the refreshed copies in ``cache_dir`` when given: a refreshed instrument replaces the committed
    one with the same native symbol, and committed-only instruments stay known."""
    by_key: dict[tuple[ExchangeId, str], Instrument] = {}
    versions: list[str] = []
    documents = [instruments_resource(venue).read_text() for venue in registered_venues()]
    if cache_dir is not None and cache_dir.is_dir():
        documents += [path.read_text() for path in sorted(cache_dir.glob("*.json"))]
    for text in documents:
        document = json.loads(text)
        exchange = ExchangeId(document["exchange"])
        versions.append(f"{exchange.value}@{document['version']}")
        for entry in document["instruments"]:
            instrument = instrument_from_json(exchange, entry)
            by_key[(exchange, instrument.native_symbol)] = instrument
    return InstrumentCatalog(list(by_key.values()), version=", ".join(versions))


def instrument_from_json(exchange: ExchangeId, entry: dict[str, object]) -> Instrument:
    return Instrument(
        exchange=exchange,
        native_symbol=str(entry["native_symbol"]),
        base=str(entry["base"]),
        quote=str(entry["quote"]),
        tick_size=Decimal(str(entry["tick_size"])),
        lot_size=Decimal(str(entry["lot_size"])),
        contract_size=Decimal(str(entry["contract_size"])),
        inverse=bool(entry["inverse"]),
        multiplier=Decimal(str(entry.get("multiplier", "1"))),
        funding_interval_s=int(str(entry.get("funding_interval_s", 8 * 3600))),
    )


def instrument_to_json(instrument: Instrument) -> dict[str, object]:
    return {
        "native_symbol": instrument.native_symbol,
        "base": instrument.base,
        "quote": instrument.quote,
        "tick_size": str(instrument.tick_size),
        "lot_size": str(instrument.lot_size),
        "contract_size": str(instrument.contract_size),
        "inverse": instrument.inverse,
        "multiplier": str(instrument.multiplier),
        "funding_interval_s": instrument.funding_interval_s,
    }
