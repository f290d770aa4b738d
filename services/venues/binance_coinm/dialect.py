"""Binance COIN-M (inverse) perpetuals, as the simulator speaks it.

Protocol (developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams
and .../market-data/rest-api): the USD-M framing (combined streams at ``/stream``, ``SUBSCRIBE``
answered ``{"result": null, "id"}``, protocol-level pings, ``depthUpdate`` with ``U``/``u``/``pu``
bootstrapped from REST ``/dapi/v1/depth``'s ``lastUpdateId``), with ``ps`` (the pair, BTCUSD) on
depth, book ticker and liquidation payloads. Quantities are CONTRACTS of ``contractSize`` USD
(100 for BTCUSD_PERP, 10 for the others); ``/dapi/v1/openInterest`` answers in contracts and
``/dapi/v1/exchangeInfo`` lists ``contractSize`` and ``contractStatus``.
"""

from typing import Any

from schemas.common import ExchangeId
from services.simulator.dialect import ms
from services.simulator.model import Grid
from services.venues.binance_usdm.dialect import BinanceUsdmDialect


def _pair(native: str) -> str:
    """BTCUSD_PERP -> BTCUSD."""
    return native.split("_", 1)[0]


class BinanceCoinmDialect(BinanceUsdmDialect):
    exchange = ExchangeId.BINANCE_COINM
    rest_prefix = "/dapi/v1"

    def pair_fields(self, native: str) -> dict[str, str]:
        return {"ps": _pair(native)}

    def open_interest_payload(self, grid: Grid, lots: int, now_ns: int) -> dict[str, Any]:
        return {
            "symbol": grid.native_symbol,
            "pair": _pair(grid.native_symbol),
            "openInterest": self.qty(grid, lots),
            "contractType": "PERPETUAL",
            "time": ms(now_ns),
        }

    def symbol_info(self, grid: Grid) -> dict[str, Any]:
        base, quote = grid.symbol.split("-")[:2]
        return {
            "symbol": grid.native_symbol,
            "pair": _pair(grid.native_symbol),
            "contractType": "PERPETUAL",
            "contractStatus": "TRADING",
            "contractSize": int(grid.contract_size),
            "baseAsset": base,
            "quoteAsset": quote,
            "marginAsset": base,
            "filters": [
                {"filterType": "PRICE_FILTER", "tickSize": format(grid.tick, "f")},
                {"filterType": "LOT_SIZE", "stepSize": format(grid.lot, "f")},
            ],
        }
