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
"""

import hashlib
import math
import struct
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

from schemas.common import ExchangeId
from services.simulator.dialects.base import HttpReply, HttpRequest
from services.simulator.model import Grid, MarketModel, profile_of

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
