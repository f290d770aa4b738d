"""Instruments derived from a venue's symbol naming rules, for symbols missing from the snapshot.

Only venues whose wire quantities are already base units (contract size 1, linear) have rules
here: for them base, quote and the multiplier prefix are all that normalization needs, and the
symbol spells them out. Contract venues (OKX, Gate.io, KuCoin, BitMEX, Phemex, MEXC, Deribit) and
inverse contracts need a contract size no symbol carries: they have no rule, and an unknown
symbol stays unknown there.

Tick and lot sizes cannot be read from a symbol: a derived instrument carries 0 for both
("unknown"), and the funding interval is the venue's usual one.
"""

import re
from collections.abc import Callable
from decimal import Decimal

from schemas.common import ExchangeId
from services.instruments.catalog import Instrument

NamingRule = Callable[[str], Instrument]
"""Native symbol -> derived instrument; raises ``ValueError`` (with the reason) for a symbol the rule refuses."""

UNKNOWN_STEP = Decimal(0)
_MULTIPLIER_PREFIXES = ("1000000", "10000", "1000")
# Binance USD-M perpetuals are BASEQUOTE; dated futures carry _YYMMDD and are not perpetuals.
_BINANCE_USDM = re.compile(r"^([A-Z0-9]+?)(USDT|USDC)$")
# Bybit linear perpetuals: BASEUSDT, BASEUSDC, and the older USDC ones BASEPERP. BASEUSD is inverse.
_BYBIT = re.compile(r"^([A-Z0-9]+?)(USDT|USDC|PERP)$")
# Bitget USDT-/USDC-M futures instIds; a v1 REST id carries a product suffix (_UMCBL, _CMCBL).
_BITGET = re.compile(r"^([A-Z0-9]+?)(USDT|USDC)(_UMCBL|_CMCBL)?$")
# Hyperliquid perpetuals are named by their coin; "@107" is a spot pair, "dex:COIN" a builder market.
_HYPERLIQUID = re.compile(r"^k?[A-Z0-9]+$")
# CoinDCX futures pairs: B-BASE_USDT.
_COINDCX = re.compile(r"^B-([A-Z0-9]+)_(USDT)$")


def split_prefix(base: str) -> tuple[str, Decimal]:
    """``1000PEPE`` -> (``PEPE``, 1000), ``BTC`` -> (``BTC``, 1): a power-of-ten prefix on the base coin."""
    for prefix in _MULTIPLIER_PREFIXES:
        if base.startswith(prefix) and base[len(prefix) :].isalpha():
            return base[len(prefix) :], Decimal(prefix)
    return base, Decimal(1)


def split_prefix_or_suffix(base: str) -> tuple[str, Decimal]:
    """Bybit also writes the multiplier after the coin: ``SHIB1000`` -> (SHIB, 1000)."""
    for prefix in _MULTIPLIER_PREFIXES:
        if base.endswith(prefix) and base[: -len(prefix)].isalpha():
            return base[: -len(prefix)], Decimal(prefix)
    return split_prefix(base)


def _derived(
    exchange: ExchangeId,
    native: str,
    base_with_prefix: str,
    quote: str,
    split: Callable[[str], tuple[str, Decimal]],
    funding_interval_s: int = 8 * 3600,
) -> Instrument:
    base, multiplier = split(base_with_prefix)
    return Instrument(
        exchange=exchange,
        native_symbol=native,
        base=base,
        quote=quote,
        tick_size=UNKNOWN_STEP,
        lot_size=UNKNOWN_STEP,
        contract_size=Decimal(1),
        inverse=False,
        multiplier=multiplier,
        funding_interval_s=funding_interval_s,
        derived=True,
    )


def _match(pattern: re.Pattern[str], native: str, what: str) -> re.Match[str]:
    match = pattern.match(native)
    if match is None:
        raise ValueError(f"{native!r} is not named like {what}")
    return match


def binance_usdm(native: str) -> Instrument:
    """BTCUSDT, 1000PEPEUSDT, ETHUSDC (developers.binance.com, USDS-M exchangeInfo ``symbol``)."""
    match = _match(_BINANCE_USDM, native, "a USD-M perpetual (BASEUSDT or BASEUSDC)")
    return _derived(ExchangeId.BINANCE_USDM, native, match[1], match[2], split_prefix)


def bybit(native: str) -> Instrument:
    """BTCUSDT, SHIB1000USDT, BTCPERP (USDC) (bybit-exchange.github.io/docs/v5/market/instrument)."""
    match = _match(_BYBIT, native, "a linear perpetual (BASEUSDT, BASEUSDC or BASEPERP); BASEUSD is inverse")
    quote = "USDC" if match[2] == "PERP" else match[2]
    return _derived(ExchangeId.BYBIT, native, match[1], quote, split_prefix_or_suffix)


def bitget(native: str) -> Instrument:
    """BTCUSDT, ETHUSDC (Bitget v2 mix ``symbol``; v1 REST ids end in _UMCBL/_CMCBL)."""
    match = _match(_BITGET, native, "a USDT-/USDC-M perpetual (BASEUSDT or BASEUSDC)")
    return _derived(ExchangeId.BITGET, native, match[1], match[2], split_prefix)


def hyperliquid(native: str) -> Instrument:
    """BTC, kPEPE (quoted per 1000), USDC-settled, hourly funding (hyperliquid.gitbook.io, info ``meta``)."""
    _match(_HYPERLIQUID, native, "a perpetual coin name (spot pairs are @N, builder markets dex:COIN)")
    if native.startswith("k") and len(native) > 1:
        base, multiplier = native[1:], Decimal(1000)
    else:
        base, multiplier = native, Decimal(1)
    return _derived(ExchangeId.HYPERLIQUID, native, base, "USDC", lambda _: (base, multiplier), 3600)


def coindcx(native: str) -> Instrument:
    """B-BTC_USDT: sizes in base coin, unit contract value 1 (CoinDCX futures instrument details)."""
    match = _match(_COINDCX, native, "a futures pair (B-BASE_USDT)")
    return _derived(ExchangeId.COINDCX, native, match[1], match[2], split_prefix)


NAMING_RULES: dict[ExchangeId, NamingRule] = {
    ExchangeId.BINANCE_USDM: binance_usdm,
    ExchangeId.BYBIT: bybit,
    ExchangeId.BITGET: bitget,
    ExchangeId.HYPERLIQUID: hyperliquid,
    ExchangeId.COINDCX: coindcx,
}
"""The venues whose quantities are base units. Every other venue needs a contract size."""
