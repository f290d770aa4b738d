"""The venues' history endpoints, served from the price model with each venue's pagination and limits.

The model starts when the simulator starts, so what came before is a deterministic path anchored
on the model's first venue price: a pure function of (seed, venue, symbol, time), so two pages
of one history always agree, whichever is asked first and however the range is cut. Bars are
served up to the one still forming (as venues do), never beyond now.

Per venue, as documented (the backfill's venue modules cite the pages):

- Binance USD-M: ``GET /fapi/v1/klines`` (limit default 500, max 1500, oldest first, from
  startTime), ``GET /fapi/v1/fundingRate`` (default 100, max 1000), ``GET
  /futures/data/openInterestHist`` (default 30, max 500, latest 30 days only);
- Bybit: ``GET /v5/market/kline`` (default 200, max 1000, newest first), ``/v5/market/funding/history``
  (max 200, newest first; startTime without endTime is an error), ``/v5/market/open-interest``
  (default 50, max 200, newest first, ``nextPageCursor``);
- Hyperliquid: ``POST /info`` ``candleSnapshot`` (at most 5000, only the most recent 5000),
  ``fundingHistory`` (at most 500, oldest first); no open-interest history.
- MEXC: ``GET /api/v1/contract/kline/{symbol}`` (start/end in seconds, at most 2000, columnar,
  oldest first), ``/api/v1/contract/funding_rate/history`` (page_num/page_size up to 1000, newest
  first, no time parameters); no open-interest history;
- Phemex (hedged USDT contracts): ``GET /exchange/public/md/v2/kline/list`` ([from, to) in
  seconds, fewer than 2000, closed bars only), ``/api-data/public/data/funding-rate-history``
  (``.<symbol>FR8H``, start/end inclusive ms, at most 100, oldest first); no open-interest history;
- CoinDCX: ``GET /market_data/candlesticks`` (public.coindcx.com; from/to in seconds, resolution
  1/5/60/1D, pcode f; no cap documented, none imposed); no funding or open-interest history;
- Deribit: JSON-RPC over ``GET /api/v2/public/...``: ``get_tradingview_chart_data`` (columnar
  ticks/open/high/low/close/volume/cost, at most 5000 bars as ccxt pages it) and
  ``get_funding_rate_history`` (hourly interest_1h/interest_8h rows); no open-interest history.
- BitMEX: ``GET /api/v1/trade/bucketed`` (count default 100, max 1000, bucket timestamp = its
  END, ``partial``, ``reverse``) and ``/api/v1/funding``; no open-interest history.
- KuCoin Futures: ``GET /api/v1/kline/query`` (granularity in minutes, at most 500 bars, rows
  [time, o, h, l, c, lots, turnover]) and ``/api/v1/contract/funding-rates`` (from and to
  required); no open-interest history.
- OKX: ``GET /api/v5/market/history-candles`` (limit default 100, max 300, newest first, exclusive
  ``after``/``before`` ms cursors), ``/api/v5/public/funding-rate-history`` (max 400, last 3 months),
  ``/api/v5/rubik/stat/contracts/open-interest-history`` (max 100, ``end``/``begin``, latest 1440);
- Gate.io (USDT-settled): ``GET /api/v4/futures/usdt/candlesticks`` (from/to in seconds, at most 2000
  points, ``limit`` conflicts with them), ``/funding_rate`` (newest ``limit`` of [from, to]),
  ``/contract_stats`` (latest ``limit`` of [from, to], open interest in contracts);
- Bitget (USDT-FUTURES): ``GET /api/v2/mix/market/history-candles`` (max 200, at most 90 days, may
  start one bar early), ``/api/v2/mix/market/history-fund-rate`` (pageNo/pageSize up to 100, newest
  first, no time parameters); no open-interest history.
"""

import hashlib
import math
import struct
from collections.abc import Callable
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId
from services.simulator.dialect import HttpReply, HttpRequest
from services.simulator.model import Grid, MarketModel, profile_of
from services.venues.bitmex.dialect import iso as bitmex_iso

MS = 1_000_000
MINUTE_MS = 60_000
OI_MAX_AGE_MS = 30 * 86_400_000
HL_MAX_CANDLES = 5000

_BINANCE_INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240,
                      "6h": 360, "8h": 480, "12h": 720, "1d": 1440}  # fmt: skip
_BINANCE_OI_PERIODS = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "6h": 360, "12h": 720,
                       "1d": 1440}  # fmt: skip
_BYBIT_INTERVALS = {"1": 1, "3": 3, "5": 5, "15": 15, "30": 30, "60": 60, "120": 120, "240": 240, "360": 360,
                    "720": 720, "D": 1440}  # fmt: skip
_BYBIT_OI_PERIODS = {"5min": 5, "15min": 15, "30min": 30, "1h": 60, "4h": 240, "1d": 1440}
_HL_INTERVALS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "2h": 120, "4h": 240, "8h": 480,
                 "12h": 720, "1d": 1440}  # fmt: skip
_MEXC_INTERVALS = {"Min1": 1, "Min5": 5, "Min15": 15, "Min30": 30, "Min60": 60, "Hour4": 240, "Hour8": 480,
                   "Day1": 1440}  # fmt: skip
MEXC_MAX_KLINES = 2000
MEXC_FUNDING_HISTORY_MS = 3 * 365 * 86_400_000
"""How far back the simulated MEXC funding list goes (its totalCount)."""
_PHEMEX_RESOLUTIONS = (60, 300, 900, 1800, 3600, 14400, 86400)
PHEMEX_MAX_KLINES = 2000
_COINDCX_RESOLUTIONS = {"1": 1, "5": 5, "60": 60, "1D": 1440}

# Deribit, BitMEX and KuCoin Futures (services/venues/{deribit,bitmex,kucoin_futures}/history.py cite the pages).
_DERIBIT_CHART = "/api/v2/public/get_tradingview_chart_data"
_DERIBIT_FUNDING = "/api/v2/public/get_funding_rate_history"
_DERIBIT_RESOLUTIONS = {"1": 1, "3": 3, "5": 5, "10": 10, "15": 15, "30": 30, "60": 60, "120": 120, "180": 180,
                        "360": 360, "720": 720, "1D": 1440}  # fmt: skip
DERIBIT_MAX_BARS = 5000  # undocumented caps: ccxt's page sizes
DERIBIT_FUNDING_ROWS = 744
_BITMEX_BUCKETED = "/api/v1/trade/bucketed"
_BITMEX_FUNDING = "/api/v1/funding"
_BITMEX_BIN_SIZES = {"1m": 1, "5m": 5, "1h": 60, "1d": 1440}
BITMEX_MAX_COUNT = 1000
_KUCOIN_KLINE = "/api/v1/kline/query"
_KUCOIN_FUNDING = "/api/v1/contract/funding-rates"
_KUCOIN_GRANULARITIES = {1, 5, 15, 30, 60, 120, 240, 480, 720, 1440, 10080}
KUCOIN_MAX_BARS = 500

# OKX, Gate.io and Bitget (services/venues/{okx,gateio,bitget}/history.py cite the pages).
_OKX_CANDLES = "/api/v5/market/history-candles"
_OKX_FUNDING = "/api/v5/public/funding-rate-history"
_OKX_OI = "/api/v5/rubik/stat/contracts/open-interest-history"
_OKX_BARS = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1H": 60, "2H": 120, "4H": 240, "6Hutc": 360,
             "12Hutc": 720, "1Dutc": 1440}  # fmt: skip
_OKX_OI_PERIODS = {name: minutes for name, minutes in _OKX_BARS.items() if minutes >= 5}
OKX_FUNDING_MAX_AGE_MS = 90 * 86_400_000
OKX_OI_ENTRIES = 1440
_GATE_PREFIX = "/api/v4/futures/usdt"
_GATE_INTERVALS = {"1m": 1, "5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "8h": 480, "1d": 1440}
_GATE_STATS_INTERVALS = {"5m": 5, "15m": 15, "30m": 30, "1h": 60, "4h": 240, "1d": 1440}
GATE_MAX_POINTS = 2000
_BITGET_CANDLES = "/api/v2/mix/market/history-candles"
_BITGET_FUNDING = "/api/v2/mix/market/history-fund-rate"
_BITGET_GRANULARITIES = {"1m": 1, "3m": 3, "5m": 5, "15m": 15, "30m": 30, "1H": 60, "4H": 240, "6Hutc": 360,
                         "12Hutc": 720, "1Dutc": 1440}  # fmt: skip
BITGET_MAX_RANGE_MS = 90 * 86_400_000


def _bitmex_ms(value: str | None) -> int | None:
    """``startTime``/``endTime``: ISO-8601 (``2024-01-01T00:00:00.000Z``)."""
    if not value:
        return None
    return round(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)


class HistoryModel:
    """Deterministic minute-level history per (venue, instrument), anchored on the live model."""

    def __init__(self, model: MarketModel, seed: int, anchor_ms: int) -> None:
        self.model = model
        self.seed = seed
        self.anchor_minute = anchor_ms // MINUTE_MS
        self._anchors: dict[tuple[ExchangeId, str], float] = {}

    def _unit(self, grid: Grid, *key: int) -> float:
        """A uniform number in [0, 1) from the seed, the instrument and ``key``."""
        text = f"{self.seed}:{grid.venue.value}:{grid.native_symbol}:" + ":".join(map(str, key))
        digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
        return float(struct.unpack(">Q", digest)[0]) / 2.0**64

    def _shape(self, grid: Grid, minute: int) -> float:
        """Log-price offset at a minute: two slow waves and a little per-minute noise."""
        phase = self._unit(grid, 0) * 2 * math.pi
        slow = 0.012 * math.sin(2 * math.pi * minute / 2880 + phase)
        fast = 0.003 * math.sin(2 * math.pi * minute / 97 + 2 * phase)
        return slow + fast + 0.0006 * (self._unit(grid, 1, minute) - 0.5)

    def price(self, grid: Grid, minute: int) -> float:
        """Venue-unit price at the start of ``minute``; equals the model's first price at the anchor."""
        key = (grid.venue, grid.native_symbol)
        if key not in self._anchors:
            self._anchors[key] = self.model.mid_price(grid.venue, grid.native_symbol)
        anchor = self._anchors[key]
        return anchor * math.exp(self._shape(grid, minute) - self._shape(grid, self.anchor_minute))

    def bar(self, grid: Grid, open_ms: int, minutes: int) -> dict[str, Any]:
        """OHLCV of the bar opening at ``open_ms`` (venue units: price per contract, contracts)."""
        first = open_ms // MINUTE_MS
        step = max(1, minutes // 16)
        points = [self.price(grid, m) for m in range(first, first + minutes + 1, step)]
        close = self.price(grid, first + minutes)
        points.append(close)
        wiggle = 1 + 0.0004 * self._unit(grid, 2, first)
        high, low = max(points) * wiggle, min(points) / wiggle
        profile = profile_of(grid.base)
        base_volume = (
            profile.trade_rate_per_s * profile.trade_size * 60 * minutes * (0.5 + self._unit(grid, 3, first))
        )
        mid = (high + low) / 2
        if grid.inverse:  # a contract is worth contract_size quote units
            contracts = base_volume * mid / float(grid.contract_size)
        else:
            contracts = base_volume / float(grid.contract_size * grid.multiplier)
        trades = max(1, round(profile.trade_rate_per_s * 60 * minutes * (0.5 + self._unit(grid, 4, first))))
        buy_share = 0.35 + 0.3 * self._unit(grid, 5, first)
        return {
            "base_volume": self.decimal(base_volume),
            "buy_base_volume": self.decimal(base_volume * buy_share),
            "open": self.px(grid, points[0]),
            "high": self.px(grid, high),
            "low": self.px(grid, low),
            "close": self.px(grid, close),
            "volume": self.qty(grid, contracts),
            "quote": self.decimal(contracts * float(grid.contract_size) * mid),
            "trades": trades,
            "buy_volume": self.qty(grid, contracts * buy_share),
            "buy_quote": self.decimal(contracts * buy_share * float(grid.contract_size) * mid),
        }

    def funding_rate(self, grid: Grid, ts_ms: int) -> str:
        hour = ts_ms // 3_600_000
        rate = (
            0.0001
            + 0.00006 * math.sin(hour / 9 + 6 * self._unit(grid, 6))
            + 0.00002 * (self._unit(grid, 7, hour) - 0.5)
        )
        return f"{rate:.8f}"

    def open_interest(self, grid: Grid, ts_ms: int) -> float:
        """Base units."""
        minute = ts_ms // MINUTE_MS
        wave = 0.05 * math.sin(2 * math.pi * minute / 4320 + 6 * self._unit(grid, 8))
        return profile_of(grid.base).open_interest * (
            1 + wave + 0.01 * (self._unit(grid, 9, minute // 5) - 0.5)
        )

    @staticmethod
    def px(grid: Grid, price: float) -> str:
        ticks = max(1, round(price / float(grid.tick)))
        return format(ticks * grid.tick, "f")

    @staticmethod
    def qty(grid: Grid, contracts: float) -> str:
        lots = max(0, round(contracts / float(grid.lot)))
        return format(lots * grid.lot, "f")

    @staticmethod
    def decimal(value: float) -> str:
        return format(Decimal(repr(value)).quantize(Decimal("0.00000001"), ROUND_HALF_EVEN), "f")


def _int(query: dict[str, str], name: str) -> int | None:
    value = query.get(name)
    return None if value in (None, "") else int(str(value))


def _grid_times(start_ms: int, end_ms: int, step_ms: int) -> list[int]:
    """Multiples of ``step_ms`` in ``[start_ms, end_ms]``."""
    first = -(-start_ms // step_ms) * step_ms
    return list(range(first, end_ms + 1, step_ms))


def _window(
    start: int | None, end: int | None, limit: int, step_ms: int, now_ms: int, newest: bool
) -> list[int]:
    """Record times a venue returns: from ``start`` forward, or the newest ``limit`` up to ``end``."""
    end = min(end if end is not None else now_ms, now_ms)
    if start is None:
        start = end - limit * step_ms
    times = _grid_times(start, end, step_ms)
    if newest:
        return times[-limit:]
    return times[:limit]


class VenueHistoryEndpoints:
    """Routes one venue's history requests; ``reply`` returns None for any other request."""

    def __init__(self, exchange: ExchangeId, history: HistoryModel) -> None:
        self.exchange = exchange
        self.history = history
        self._routes: dict[ExchangeId, Callable[[HttpRequest, int], HttpReply | None]] = {
            ExchangeId.BINANCE_USDM: self._binance,
            ExchangeId.BINANCE_COINM: self._binance_coinm,
            ExchangeId.BYBIT: self._bybit,
            ExchangeId.HYPERLIQUID: self._hyperliquid,
            ExchangeId.MEXC: self._mexc,
            ExchangeId.PHEMEX: self._phemex,
            ExchangeId.COINDCX: self._coindcx,
            ExchangeId.DERIBIT: self._deribit,
            ExchangeId.BITMEX: self._bitmex,
            ExchangeId.KUCOIN_FUTURES: self._kucoin_futures,
            ExchangeId.OKX: self._okx,
            ExchangeId.GATEIO: self._gateio,
            ExchangeId.BITGET: self._bitget,
        }

    def reply(self, request: HttpRequest, now_ns: int) -> HttpReply | None:
        route = self._routes.get(self.exchange)
        if route is None:
            return None
        try:
            return route(request, now_ns // MS)
        except (ValueError, KeyError, TypeError) as exc:
            return HttpReply.json({"code": -1102, "msg": f"bad parameter: {exc}"}, 400)

    def _grid(self, native: str) -> Grid | None:
        return self.history.model.grid(self.exchange, native)

    # --- Binance USD-M -----------------------------------------------------------------------

    def _binance(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        path, q = request.path, request.query
        if path not in ("/fapi/v1/klines", "/fapi/v1/fundingRate", "/futures/data/openInterestHist"):
            return None
        grid = self._grid(q.get("symbol", ""))
        if grid is None:
            return HttpReply.json({"code": -1121, "msg": "Invalid symbol."}, 400)
        start, end = _int(q, "startTime"), _int(q, "endTime")
        if path == "/fapi/v1/klines":
            minutes = _BINANCE_INTERVALS.get(q.get("interval", ""))
            if minutes is None:
                return HttpReply.json({"code": -1120, "msg": "Invalid interval."}, 400)
            limit = _int(q, "limit") or 500
            if not 1 <= limit <= 1500:
                return HttpReply.json(
                    {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}, 400
                )
            step = minutes * MINUTE_MS
            rows: list[Any] = []
            for t in _window(start, end, limit, step, now_ms, newest=start is None):
                b = self.history.bar(grid, t, minutes)
                rows.append([t, b["open"], b["high"], b["low"], b["close"], b["volume"], t + step - 1, b["quote"],
                             b["trades"], b["buy_volume"], b["buy_quote"], "0"])  # fmt: skip
            return HttpReply.json(rows)
        if path == "/fapi/v1/fundingRate":
            limit = _int(q, "limit") or 100
            if not 1 <= limit <= 1000:
                return HttpReply.json(
                    {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}, 400
                )
            step = grid.funding_interval_s * 1000
            rows = [
                {"symbol": grid.native_symbol, "fundingRate": self.history.funding_rate(grid, t), "fundingTime": t,
                 "markPrice": self.history.px(grid, self.history.price(grid, t // MINUTE_MS))}
                for t in _window(start, end, limit, step, now_ms, newest=start is None)
            ]  # fmt: skip
            return HttpReply.json(rows)
        minutes = _BINANCE_OI_PERIODS.get(q.get("period", ""))
        if minutes is None:
            return HttpReply.json({"code": -1120, "msg": "Invalid period."}, 400)
        limit = _int(q, "limit") or 30
        if not 1 <= limit <= 500:
            return HttpReply.json(
                {"code": -1130, "msg": "Data sent for parameter 'limit' is not valid."}, 400
            )
        step = minutes * MINUTE_MS
        oldest = now_ms - OI_MAX_AGE_MS
        rows = []
        for t in _window(
            max(start, oldest) if start else None, end, limit, step, now_ms, newest=start is None
        ):
            if t < oldest:
                continue
            oi = self.history.open_interest(grid, t)
            price = self.history.price(grid, t // MINUTE_MS) / float(grid.multiplier)
            rows.append({"symbol": grid.native_symbol, "sumOpenInterest": self.history.decimal(oi),
                         "sumOpenInterestValue": self.history.decimal(oi * price), "timestamp": t})  # fmt: skip
        return HttpReply.json(rows)

    # --- Binance COIN-M ------------------------------------------------------------------------

    def _binance_coinm(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """USD-M's endpoints under /dapi/v1 with inverse units: volume in contracts, then base asset
        volume; open-interest statistics by pair and contract type, value in the base asset."""
        path, q = request.path, request.query
        if path == "/futures/data/openInterestHist":
            native = f"{q.get('pair', '')}_PERP" if q.get("contractType") == "PERPETUAL" else ""
            grid = self._grid(native)
            if grid is None:
                return HttpReply.json({"code": -1121, "msg": "Invalid symbol."}, 400)
            minutes = _BINANCE_OI_PERIODS.get(q.get("period", ""))
            limit = _int(q, "limit") or 30
            if minutes is None or not 1 <= limit <= 500:
                return HttpReply.json(
                    {"code": -1130, "msg": "Data sent for parameter 'period' or 'limit' is not valid."}, 400
                )
            start = _int(q, "startTime")
            oldest = now_ms - OI_MAX_AGE_MS
            rows: list[Any] = []
            for t in _window(max(start, oldest) if start else None, _int(q, "endTime"), limit, minutes * MINUTE_MS,
                             now_ms, newest=start is None):  # fmt: skip
                if t < oldest:
                    continue
                oi = self.history.open_interest(grid, t)
                price = self.history.price(grid, t // MINUTE_MS)
                rows.append({"pair": q["pair"], "contractType": "PERPETUAL",
                             "sumOpenInterest": str(round(oi * price / float(grid.contract_size))),
                             "sumOpenInterestValue": self.history.decimal(oi), "timestamp": t})  # fmt: skip
            return HttpReply.json(rows)
        if path == "/dapi/v1/klines":
            reply = self._binance(HttpRequest(request.method, "/fapi/v1/klines", q), now_ms)
            if reply is None or reply.status != 200:
                return reply
            grid = self._grid(q.get("symbol", ""))
            assert grid is not None
            rows = orjson.loads(reply.body)
            for row in rows:  # inverse: column 7 is the base asset volume, column 10 its taker-buy part
                b = self.history.bar(grid, row[0], _BINANCE_INTERVALS[q["interval"]])
                row[7], row[10] = b["base_volume"], b["buy_base_volume"]
            return HttpReply.json(rows)
        if path == "/dapi/v1/fundingRate":
            return self._binance(HttpRequest(request.method, "/fapi/v1/fundingRate", q), now_ms)
        return None

    # --- Bybit --------------------------------------------------------------------------------

    def _bybit(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        path, q = request.path, request.query
        if path not in ("/v5/market/kline", "/v5/market/funding/history", "/v5/market/open-interest"):
            return None

        def ok(result: dict[str, Any]) -> HttpReply:
            return HttpReply.json(
                {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": now_ms}
            )

        def error(message: str) -> HttpReply:
            return HttpReply.json(
                {"retCode": 10001, "retMsg": message, "result": {}, "retExtInfo": {}, "time": now_ms}
            )

        grid = self._grid(q.get("symbol", ""))
        if grid is None:
            return error("params error: symbol invalid")
        category = q.get("category", "linear")
        if path == "/v5/market/kline":
            minutes = _BYBIT_INTERVALS.get(q.get("interval", ""))
            if minutes is None:
                return error("params error: interval invalid")
            limit = _int(q, "limit") or 200
            if not 1 <= limit <= 1000:
                return error("params error: limit invalid")
            step = minutes * MINUTE_MS
            times = _window(_int(q, "start"), _int(q, "end"), limit, step, now_ms, newest=True)
            rows: list[Any] = []
            for t in reversed(times):
                b = self.history.bar(grid, t, minutes)
                rows.append([str(t), b["open"], b["high"], b["low"], b["close"], b["volume"], b["quote"]])
            return ok({"symbol": grid.native_symbol, "category": category, "list": rows})
        if path == "/v5/market/funding/history":
            start, end = _int(q, "startTime"), _int(q, "endTime")
            if start is not None and end is None:
                return error("params error: endTime is required when startTime is passed")
            limit = _int(q, "limit") or 200
            if not 1 <= limit <= 200:
                return error("params error: limit invalid")
            step = grid.funding_interval_s * 1000
            times = _window(start, end, limit, step, now_ms, newest=True)
            rows = [{"symbol": grid.native_symbol, "fundingRate": self.history.funding_rate(grid, t),
                     "fundingRateTimestamp": str(t)} for t in reversed(times)]  # fmt: skip
            return ok({"category": category, "list": rows})
        minutes = _BYBIT_OI_PERIODS.get(q.get("intervalTime", ""))
        if minutes is None:
            return error("params error: intervalTime invalid")
        limit = _int(q, "limit") or 50
        if not 1 <= limit <= 200:
            return error("params error: limit invalid")
        step = minutes * MINUTE_MS
        end = _int(q, "endTime")
        if q.get("cursor"):
            end = int(q["cursor"])  # the cursor is the last timestamp already sent, minus one
        times = _window(_int(q, "startTime"), end, limit, step, now_ms, newest=True)
        rows = [{"openInterest": self.history.decimal(self.history.open_interest(grid, t) / float(grid.multiplier)),
                 "timestamp": str(t)} for t in reversed(times)]  # fmt: skip
        start = _int(q, "startTime")
        more = bool(times) and (start is None or times[0] - step >= start) and len(times) == limit
        cursor = str(times[0] - 1) if more else ""
        return ok(
            {"symbol": grid.native_symbol, "category": category, "list": rows, "nextPageCursor": cursor}
        )

    # --- Hyperliquid -------------------------------------------------------------------------

    def _hyperliquid(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        if request.path != "/info" or request.method != "POST":
            return None
        try:
            body = orjson.loads(request.body)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(body, dict) or body.get("type") not in ("candleSnapshot", "fundingHistory"):
            return None
        if body["type"] == "candleSnapshot":
            req = body["req"]
            grid = self._grid(str(req.get("coin")))
            minutes = _HL_INTERVALS.get(str(req.get("interval")))
            if grid is None or minutes is None:
                return HttpReply(500, b"null")
            step = minutes * MINUTE_MS
            oldest = (now_ms // step - HL_MAX_CANDLES + 1) * step  # only the most recent 5000 candles
            start = max(int(req["startTime"]), oldest)
            end = min(int(req.get("endTime") or now_ms), now_ms)
            rows: list[Any] = []
            for t in _grid_times(start, end, step)[:HL_MAX_CANDLES]:
                b = self.history.bar(grid, t, minutes)
                rows.append({"t": t, "T": t + step - 1, "s": grid.native_symbol, "i": req["interval"],
                             "o": b["open"], "c": b["close"], "h": b["high"], "l": b["low"], "v": b["volume"],
                             "n": b["trades"]})  # fmt: skip
            return HttpReply.json(rows)
        grid = self._grid(str(body.get("coin")))
        if grid is None:
            return HttpReply(500, b"null")
        step = grid.funding_interval_s * 1000
        end = min(int(body.get("endTime") or now_ms), now_ms)
        times = _grid_times(int(body["startTime"]), end, step)[:500]
        rows = [{"coin": grid.native_symbol, "fundingRate": self.history.funding_rate(grid, t),
                 "premium": "0.0", "time": t} for t in times]  # fmt: skip
        return HttpReply.json(rows)

    # --- OKX ----------------------------------------------------------------------------------

    def _okx(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """Newest first everywhere; ``after`` / ``before`` (``end`` / ``begin`` for open interest)
        are exclusive bounds, the newest ``limit`` rows below the upper one are answered."""
        path, q = request.path, request.query
        if path not in (_OKX_CANDLES, _OKX_FUNDING, _OKX_OI):
            return None

        def ok(data: list[Any]) -> HttpReply:
            return HttpReply.json({"code": "0", "msg": "", "data": data})

        def fail(code: str, message: str) -> HttpReply:
            return HttpReply.json({"code": code, "msg": message, "data": []}, 400)

        grid = self._grid(q.get("instId", ""))
        if grid is None:
            return fail("51001", "Instrument ID does not exist.")
        upper, lower = ("end", "begin") if path == _OKX_OI else ("after", "before")
        upper_ms, lower_ms = _int(q, upper), _int(q, lower)
        end = None if upper_ms is None else upper_ms - 1
        start = None if lower_ms is None else lower_ms + 1
        if path == _OKX_CANDLES:
            minutes = _OKX_BARS.get(q.get("bar") or "1m")
            limit = _int(q, "limit") or 100
            if minutes is None:
                return fail("51000", "Parameter bar error")
            if not 1 <= limit <= 300:
                return fail("51000", "Parameter limit error")
            step = minutes * MINUTE_MS
            rows: list[Any] = []
            for t in reversed(_window(start, end, limit, step, now_ms, newest=True)):
                b = self.history.bar(grid, t, minutes)
                rows.append([str(t), b["open"], b["high"], b["low"], b["close"], b["volume"], b["base_volume"],
                             b["quote"], "0" if t + step > now_ms else "1"])  # fmt: skip
            return ok(rows)
        if path == _OKX_FUNDING:
            limit = _int(q, "limit") or 400
            if not 1 <= limit <= 400:
                return fail("51000", "Parameter limit error")
            step = grid.funding_interval_s * 1000
            oldest = now_ms - OKX_FUNDING_MAX_AGE_MS
            rows = []
            for t in reversed(_window(start, end, limit, step, now_ms, newest=True)):
                if t < oldest:
                    continue
                rate = self.history.funding_rate(grid, t)
                rows.append({"formulaType": "noRate", "fundingRate": rate, "fundingTime": str(t),
                             "instId": grid.native_symbol, "instType": "SWAP", "method": "next_period",
                             "realizedRate": rate})  # fmt: skip
            return ok(rows)
        minutes = _OKX_OI_PERIODS.get(q.get("period") or "5m")
        limit = _int(q, "limit") or 100
        if minutes is None:
            return fail("51000", "Parameter period error")
        if not 1 <= limit <= 100:
            return fail("51000", "Parameter limit error")
        step = minutes * MINUTE_MS
        oldest = (now_ms // step - OKX_OI_ENTRIES + 1) * step  # the latest 1,440 entries only
        rows = []
        for t in reversed(_window(start, end, limit, step, now_ms, newest=True)):
            if t < oldest:
                continue
            base = self.history.open_interest(grid, t)
            price = self.history.price(grid, t // MINUTE_MS)
            if grid.inverse:  # a contract is worth ctVal USD
                contracts = base * price / float(grid.contract_size)
            else:
                contracts = base / float(grid.contract_size * grid.multiplier)
            rows.append([str(t), self.history.decimal(contracts), self.history.decimal(base),
                         self.history.decimal(base * price)])  # fmt: skip
        return ok(rows)

    # --- Gate.io ------------------------------------------------------------------------------

    def _gateio(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """USDT-settled futures, times in seconds. Candlesticks: ``limit`` conflicts with ``from``
        / ``to``, at most 2000 points, oldest first. Funding: the newest ``limit`` of [from, to],
        newest first. Contract stats: the latest ``limit`` rows of [from, to], oldest first."""
        path, q = request.path, request.query
        if path not in (f"{_GATE_PREFIX}/candlesticks", f"{_GATE_PREFIX}/funding_rate",
                        f"{_GATE_PREFIX}/contract_stats"):  # fmt: skip
            return None

        def fail(label: str, message: str) -> HttpReply:
            return HttpReply.json({"label": label, "message": message}, 400)

        grid = self._grid(q.get("contract", ""))
        if grid is None:
            return fail("CONTRACT_NOT_FOUND", "Contract not found")
        start = None if _int(q, "from") is None else int(q["from"]) * 1000
        end = None if _int(q, "to") is None else int(q["to"]) * 1000
        limit = _int(q, "limit")
        if path.endswith("/candlesticks"):
            minutes = _GATE_INTERVALS.get(q.get("interval") or "5m")
            if minutes is None:
                return fail("INVALID_PARAM_VALUE", "invalid interval")
            if limit is not None and (start is not None or end is not None):
                return fail("INVALID_PARAM_VALUE", "limit conflicts with from and to")
            step = minutes * MINUTE_MS
            last = min(end if end is not None else now_ms, now_ms)
            first = start if start is not None else last - (limit or 100) * step
            times = _grid_times(first, last, step)
            if len(times) > GATE_MAX_POINTS:
                return fail("INVALID_PARAM_VALUE", f"Candlestick too long, maximum {GATE_MAX_POINTS} points")
            if limit is not None:
                times = times[-limit:]
            rows: list[Any] = []
            for t in times:
                b = self.history.bar(grid, t, minutes)
                rows.append({"t": t // 1000, "v": b["volume"], "c": b["close"], "h": b["high"], "l": b["low"],
                             "o": b["open"], "sum": b["quote"]})  # fmt: skip
            return HttpReply.json(rows)
        if path.endswith("/funding_rate"):
            limit = limit or 100
            if not 1 <= limit <= 1000:
                return fail("INVALID_PARAM_VALUE", "limit out of range")
            step = grid.funding_interval_s * 1000
            times = _window(start, end, limit, step, now_ms, newest=True)
            return HttpReply.json(
                [{"t": t // 1000, "r": self.history.funding_rate(grid, t)} for t in reversed(times)]
            )
        minutes = _GATE_STATS_INTERVALS.get(q.get("interval") or "5m")
        limit = limit or 30
        if minutes is None or not 1 <= limit <= 100:
            return fail("INVALID_PARAM_VALUE", "invalid interval or limit")
        step = minutes * MINUTE_MS
        rows = []
        for t in _window(start, end, limit, step, now_ms, newest=True):
            base = self.history.open_interest(grid, t)
            price = self.history.price(grid, t // MINUTE_MS)
            contracts = round(base / float(grid.contract_size * grid.multiplier))
            rows.append({"time": t // 1000, "lsr_taker": 1.1, "lsr_account": 0.9, "long_liq_size": "0",
                         "short_liq_size": "0", "open_interest": str(contracts),
                         "open_interest_usd": round(contracts * float(grid.contract_size) * price, 4),
                         "mark_price": float(self.history.px(grid, price))})  # fmt: skip
        return HttpReply.json(rows)

    # --- Bitget -------------------------------------------------------------------------------

    def _bitget(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """USDT-M v2. History candles: finished bars of [startTime, endTime] (at most 90 days),
        the newest ``limit`` (default 100, max 200), oldest first; like the venue, the answer may
        start one interval before startTime. Funding history: newest first by pageNo / pageSize
        (default 20, max 100), no time parameters."""
        path, q = request.path, request.query
        if path not in (_BITGET_CANDLES, _BITGET_FUNDING):
            return None

        def answer(data: Any, code: str = "00000", msg: str = "success", status: int = 200) -> HttpReply:
            return HttpReply.json({"code": code, "msg": msg, "requestTime": now_ms, "data": data}, status)

        grid = self._grid(q.get("symbol", ""))
        if grid is None or q.get("productType", "").upper() != "USDT-FUTURES":
            return answer(None, "40034", "Parameter symbol or productType does not exist", 400)
        if path == _BITGET_CANDLES:
            minutes = _BITGET_GRANULARITIES.get(q.get("granularity", ""))
            limit = _int(q, "limit") or 100
            start, end = _int(q, "startTime"), _int(q, "endTime")
            if minutes is None or not 1 <= limit <= 200:
                return answer(None, "40019", "Parameter granularity or limit error", 400)
            if start is not None and end is not None and end - start > BITGET_MAX_RANGE_MS:
                return answer(None, "40017", "The maximum time query range is 90 days", 400)
            step = minutes * MINUTE_MS
            finished = now_ms // step * step - step  # the newest finished bar
            last = min(end if end is not None else now_ms, finished)
            first = start // step * step - step if start is not None else last - (limit - 1) * step
            rows: list[Any] = []
            for t in _grid_times(first, last, step)[-limit:]:
                b = self.history.bar(grid, t, minutes)
                rows.append([str(t), b["open"], b["high"], b["low"], b["close"], b["volume"], b["quote"]])
            return answer(rows)
        page_size, page_no = _int(q, "pageSize") or 20, _int(q, "pageNo") or 1
        if not 1 <= page_size <= 100 or page_no < 1:
            return answer(None, "40019", "Parameter pageSize or pageNo error", 400)
        step = grid.funding_interval_s * 1000
        newest = now_ms // step * step
        first = (page_no - 1) * page_size
        rows = [{"symbol": grid.native_symbol, "fundingRate": self.history.funding_rate(grid, t),
                 "fundingTime": str(t)}
                for t in (newest - i * step for i in range(first, first + page_size))]  # fmt: skip
        return answer(rows)

    # --- Deribit ------------------------------------------------------------------------------

    def _deribit(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """JSON-RPC over GET: ``/api/v2/public/<method>`` with its params in the query string."""
        path, q = request.path, request.query
        if path not in (_DERIBIT_CHART, _DERIBIT_FUNDING):
            return None
        stamps = {"usIn": now_ms * 1000, "usOut": now_ms * 1000 + 150, "usDiff": 150, "testnet": False}

        def invalid(param: str) -> HttpReply:
            error = {"message": "Invalid params", "code": -32602, "data": {"param": param}}
            return HttpReply.json({"jsonrpc": "2.0", "error": error, **stamps}, 400)

        grid = self._grid(q.get("instrument_name", ""))
        if grid is None:
            return invalid("instrument_name")
        start, end = _int(q, "start_timestamp"), _int(q, "end_timestamp")
        if start is None or end is None:
            return invalid("start_timestamp" if start is None else "end_timestamp")
        if path == _DERIBIT_CHART:
            minutes = _DERIBIT_RESOLUTIONS.get(q.get("resolution", ""))
            if minutes is None:
                return invalid("resolution")
            times = _grid_times(start, min(end, now_ms), minutes * MINUTE_MS)[:DERIBIT_MAX_BARS]
            bars = [self.history.bar(grid, t, minutes) for t in times]
            # volume "in base currency", cost "in quote currency" (USD amounts for an inverse perpetual)
            result: dict[str, Any] = {
                "status": "ok" if bars else "no_data",
                "ticks": times,
                **{key: [float(b[key]) for b in bars] for key in ("open", "high", "low", "close")},
                "volume": [float(b["base_volume"]) for b in bars],
                "cost": [float(b["volume"] if grid.inverse else b["quote"]) for b in bars],
            }
            return HttpReply.json({"jsonrpc": "2.0", "result": result, **stamps})
        hour = 3_600_000
        rows = []
        for t in _grid_times(start, min(end, now_ms), hour)[:DERIBIT_FUNDING_ROWS]:
            rate = float(self.history.funding_rate(grid, t))
            rows.append({"timestamp": t, "index_price": float(self.history.px(grid, self.history.price(grid, t // MINUTE_MS))),
                         "prev_index_price": float(self.history.px(grid, self.history.price(grid, (t - hour) // MINUTE_MS))),
                         "interest_8h": rate, "interest_1h": rate / 8})  # fmt: skip
        return HttpReply.json({"jsonrpc": "2.0", "result": rows, **stamps})

    # --- BitMEX -------------------------------------------------------------------------------

    def _bitmex(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """Rows oldest first unless ``reverse``; bucket timestamps are the END of the bucket."""
        path, q = request.path, request.query
        if path not in (_BITMEX_BUCKETED, _BITMEX_FUNDING):
            return None

        def invalid(message: str) -> HttpReply:
            return HttpReply.json({"error": {"message": message, "name": "ValidationError"}}, 400)

        grid = self._grid(q.get("symbol", ""))
        if grid is None:
            return invalid("Unknown symbol")
        count, offset = _int(q, "count") or 100, _int(q, "start") or 0
        if not 1 <= count <= BITMEX_MAX_COUNT:
            return invalid(f"count must be between 1 and {BITMEX_MAX_COUNT}")
        reverse = q.get("reverse", "false") == "true"
        start, end = _bitmex_ms(q.get("startTime")), _bitmex_ms(q.get("endTime"))
        if path == _BITMEX_BUCKETED:
            minutes = _BITMEX_BIN_SIZES.get(q.get("binSize", "1m"))
            if minutes is None:
                return invalid("binSize must be one of 1m, 5m, 1h, 1d")
            step = minutes * MINUTE_MS
            last_end = now_ms // step * step + (step if q.get("partial") == "true" else 0)
            ends = _window(start, end, count + offset, step, last_end, newest=reverse)
            rows: list[Any] = []
            for bucket_end in (ends[::-1] if reverse else ends)[offset:]:
                b = self.history.bar(grid, bucket_end - step, minutes)
                contracts = Decimal(b["volume"])
                if grid.inverse:  # a contract is contract_size USD
                    home, foreign = Decimal(b["base_volume"]), contracts * grid.contract_size
                else:
                    home, foreign = contracts * grid.contract_size, Decimal(b["quote"])
                rows.append({"timestamp": bitmex_iso(bucket_end * MS), "symbol": grid.native_symbol,
                             "open": float(b["open"]), "high": float(b["high"]), "low": float(b["low"]),
                             "close": float(b["close"]), "trades": b["trades"], "volume": int(contracts),
                             "vwap": float(foreign / home) if home else None, "lastSize": int(grid.lot),
                             "turnover": int(home * 100_000_000), "homeNotional": float(home),
                             "foreignNotional": float(foreign)})  # fmt: skip
            return HttpReply.json(rows)
        step = grid.funding_interval_s * 1000
        times = _window(start, end, count + offset, step, now_ms, newest=reverse)
        interval = f"2000-01-01T{grid.funding_interval_s // 3600:02d}:00:00.000Z"
        rows = []
        for t in (times[::-1] if reverse else times)[offset:]:
            rate = float(self.history.funding_rate(grid, t))
            rows.append({"timestamp": bitmex_iso(t * MS), "symbol": grid.native_symbol, "fundingInterval": interval,
                         "fundingRate": rate, "fundingRateDaily": rate * 86400 / grid.funding_interval_s})  # fmt: skip
        return HttpReply.json(rows)

    # --- KuCoin Futures -------------------------------------------------------------------------

    def _kucoin_futures(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        path, q = request.path, request.query
        if path not in (_KUCOIN_KLINE, _KUCOIN_FUNDING):
            return None
        grid = self._grid(q.get("symbol", ""))
        if grid is None:
            return HttpReply.json({"code": "300000", "msg": "Contract does not exist"})
        start, end = _int(q, "from"), _int(q, "to")
        if path == _KUCOIN_KLINE:
            minutes = _int(q, "granularity")
            if minutes not in _KUCOIN_GRANULARITIES:
                return HttpReply.json({"code": "400100", "msg": "Parameter granularity is invalid"}, 400)
            times = _window(start, end, KUCOIN_MAX_BARS, minutes * MINUTE_MS, now_ms, newest=start is None)
            rows: list[Any] = []
            for t in times:
                b = self.history.bar(grid, t, minutes)
                turnover = b["base_volume"] if grid.inverse else b["quote"]
                rows.append([t, float(b["open"]), float(b["high"]), float(b["low"]), float(b["close"]),
                             float(b["volume"]), float(turnover)])  # fmt: skip
            return HttpReply.json({"code": "200000", "data": rows})
        if start is None or end is None:
            return HttpReply.json({"code": "400100", "msg": "from and to are required"}, 400)
        step = grid.funding_interval_s * 1000
        rows = [{"symbol": grid.native_symbol, "fundingRate": float(self.history.funding_rate(grid, t)), "timepoint": t}
                for t in _grid_times(start, min(end, now_ms), step)]  # fmt: skip
        # Get Public Funding History answers with its own envelope (the page's example).
        return HttpReply.json(
            {"success": True, "code": "200", "msg": "success", "retry": False, "data": rows}
        )

    # --- MEXC ---------------------------------------------------------------------------------

    def _mexc(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """Columnar klines by seconds, at most 2000 an answer; funding history by page_num and
        page_size (max 1000), newest first, with no time parameters."""
        path, q = request.path, request.query

        def fail(code: int, message: str) -> HttpReply:
            return HttpReply.json({"success": False, "code": code, "message": message})

        if path.startswith("/api/v1/contract/kline/") and path.count("/") == 5:  # not index_price/...
            grid = self._grid(path.rsplit("/", 1)[1])
            if grid is None:
                return fail(1001, "contract not exists")
            minutes = _MEXC_INTERVALS.get(q.get("interval") or "Min1")
            if minutes is None:
                return fail(600, "invalid interval")
            start, end = _int(q, "start"), _int(q, "end")
            times = _window(
                None if start is None else start * 1000,
                None if end is None else end * 1000,
                MEXC_MAX_KLINES,
                minutes * MINUTE_MS,
                now_ms,
                newest=start is None,
            )
            bars = [self.history.bar(grid, t, minutes) for t in times]
            data: dict[str, list[Any]] = {"time": [t // 1000 for t in times]}
            for column, key in (("open", "open"), ("close", "close"), ("high", "high"), ("low", "low"),
                                ("vol", "volume"), ("amount", "quote")):  # fmt: skip
                data[column] = [float(b[key]) for b in bars]
            return HttpReply.json({"success": True, "code": 0, "data": data})
        if path == "/api/v1/contract/funding_rate/history":
            grid = self._grid(q.get("symbol", ""))
            if grid is None:
                return fail(1001, "contract not exists")
            page_num, page_size = _int(q, "page_num") or 1, _int(q, "page_size") or 20
            if page_num < 1 or not 1 <= page_size <= 1000:
                return fail(600, "invalid page_num or page_size")
            step = grid.funding_interval_s * 1000
            newest, total = now_ms // step * step, MEXC_FUNDING_HISTORY_MS // step
            first = (page_num - 1) * page_size
            rows = [{"symbol": grid.native_symbol, "fundingRate": float(self.history.funding_rate(grid, t)),
                     "settleTime": t, "collectCycle": grid.funding_interval_s // 3600}
                    for t in (newest - i * step for i in range(first, min(first + page_size, total)))]  # fmt: skip
            listing = {"pageSize": page_size, "totalCount": total, "totalPage": -(-total // page_size),
                       "currentPage": page_num, "resultList": rows}  # fmt: skip
            return HttpReply.json({"success": True, "code": 0, "data": listing})
        return None

    # --- Phemex -------------------------------------------------------------------------------

    def _phemex(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """Hedged (USDT) contracts: klines by [from, to) in seconds, fewer than 2000, closed bars
        only, real values; funding history of ``.<symbol>FR8H``, inclusive ms, at most 100."""
        path, q = request.path, request.query

        def fail(message: str) -> HttpReply:
            # The pages list no error codes for these endpoints: any code but 0 is an error.
            return HttpReply.json({"code": 1, "msg": message, "data": None})

        if path == "/exchange/public/md/v2/kline/list":
            grid = self._grid(q.get("symbol", ""))
            if grid is None or grid.symbol.split("-")[1] not in ("USDT", "USDC"):
                return fail("unknown symbol (legacy contracts are not simulated here)")
            seconds, start, end = _int(q, "resolution"), _int(q, "from"), _int(q, "to")
            if seconds not in _PHEMEX_RESOLUTIONS:
                return fail("invalid resolution")
            if start is None or end is None or start % seconds or end % seconds:
                return fail("from and to are required, aligned to the resolution")
            if (end - start) // seconds >= PHEMEX_MAX_KLINES:
                return fail("Number of k-lines between from and to should be less than 2000")
            step, minutes = seconds * 1000, seconds // 60
            rows: list[Any] = []
            for t in _grid_times(start * 1000, end * 1000 - 1, step):
                if t + step > now_ms:
                    break  # the kline under generation is not included
                b = self.history.bar(grid, t, minutes)
                # last_close: the previous bar's close, which is where this one opens.
                rows.append([t // 1000, seconds, b["open"], b["open"], b["high"], b["low"], b["close"],
                             b["volume"], b["quote"]])  # fmt: skip
            return HttpReply.json({"code": 0, "msg": "OK", "data": {"total": -1, "rows": rows}})
        if path == "/api-data/public/data/funding-rate-history":
            symbol = q.get("symbol", "")
            native = symbol[1:-4] if symbol.startswith(".") and symbol.endswith("FR8H") else ""
            grid = self._grid(native)
            if grid is None:
                return fail("invalid symbol")
            limit = _int(q, "limit") or 100
            if not 1 <= limit <= 100:
                return fail("limit should be in [1, 100]")
            start = _int(q, "start")
            step = grid.funding_interval_s * 1000
            rows = [{"symbol": symbol, "fundingRate": self.history.funding_rate(grid, t), "fundingTime": t,
                     "intervalSeconds": grid.funding_interval_s}
                    for t in _window(start, _int(q, "end"), limit, step, now_ms, newest=start is None)]  # fmt: skip
            return HttpReply.json({"code": 0, "msg": "OK", "data": {"rows": rows}})
        return None

    # --- CoinDCX ------------------------------------------------------------------------------

    def _coindcx(self, request: HttpRequest, now_ms: int) -> HttpReply | None:
        """Futures candles (pcode=f) by from/to in seconds, oldest first; no cap is documented and
        none is imposed. The error shape is not documented either."""
        if request.path != "/market_data/candlesticks":
            return None
        q = request.query
        grid = self._grid(q.get("pair", ""))
        minutes = _COINDCX_RESOLUTIONS.get(q.get("resolution", ""))
        start, end = _int(q, "from"), _int(q, "to")
        if grid is None or minutes is None or q.get("pcode") != "f" or start is None or end is None:
            return HttpReply.json({"s": "error", "message": "pair, from, to, resolution and pcode=f"}, 400)
        rows = []
        for t in _grid_times(start * 1000, min(end * 1000, now_ms), minutes * MINUTE_MS):
            b = self.history.bar(grid, t, minutes)
            rows.append({"open": float(b["open"]), "high": float(b["high"]), "low": float(b["low"]),
                         "volume": float(b["volume"]), "close": float(b["close"]), "time": t})  # fmt: skip
        return HttpReply.json({"s": "ok", "data": rows})
