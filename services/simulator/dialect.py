"""What a venue dialect is: the model's events rendered in one venue's wire format.

A dialect is one small module (``services/venues/<exchange>/dialect.py``, declared in the
venue's ``VenueParts``) that knows a venue's protocol and nothing about sockets: the server hands it client frames and
REST requests and sends what it returns. See ``services/simulator/__init__.py`` for the recipe.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import parse_qsl

import orjson

from schemas.common import ExchangeId
from services.ingest.venue import Channel
from services.simulator.model import BookChange, BookView, Grid, MarketEvent, MarketModel


@dataclass(frozen=True, slots=True)
class OutFrame:
    """A text frame for every session subscribed to ``topic`` (``topic`` None: a direct reply)."""

    text: str
    topic: str | None = None
    carries: tuple[tuple[Channel, int], ...] = ()
    """Normalized events per channel in this frame (what a loss-free consumer must count);
    empty for acks, pongs and errors."""
    native_symbol: str | None = None
    close_code: int | None = None
    """Set on a reply after which the server closes the connection (a venue's protocol error);
    with an empty ``text`` the connection is closed without a last frame."""


@dataclass
class Session:
    """One client connection as a dialect sees it."""

    id: int
    path: str
    topics: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    query: dict[str, str]
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse_target(cls, method: str, target: str, body: bytes, headers: dict[str, str]) -> "HttpRequest":
        path, _, query = target.partition("?")
        params = dict(parse_qsl(query, keep_blank_values=True))
        if body and headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("latin-1"), keep_blank_values=True))
        return cls(method.upper(), path, params, body, headers)


@dataclass(frozen=True, slots=True)
class HttpReply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    carries: tuple[tuple[Channel, int], ...] = ()
    native_symbol: str | None = None

    @classmethod
    def json(
        cls,
        payload: Any,
        status: int = 200,
        *,
        carries: tuple[tuple[Channel, int], ...] = (),
        native_symbol: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> "HttpReply":
        return cls(status, orjson.dumps(payload), headers or {}, carries, native_symbol)


@dataclass(frozen=True)
class Endpoints:
    ws_url: str
    rest_url: str


class Dialect(Protocol):
    exchange: ExchangeId

    def bind(self, model: MarketModel, endpoints: Endpoints) -> None:
        """Called once the server knows its ports, before any client arrives."""
        ...

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        """Frames for a new connection (e.g. streams named in the URL, a welcome message)."""
        ...

    def on_message(self, session: Session, text: str, now_ns: int) -> list[OutFrame]:
        """Answer a client frame: acks, pongs, and the snapshots a subscription starts with."""
        ...

    def render(self, event: MarketEvent) -> list[OutFrame]:
        """The topic frames one model event becomes (sent to the sessions subscribed to each)."""
        ...

    def rest(self, request: HttpRequest, now_ns: int) -> HttpReply:
        """Answer a REST call (snapshots, instruments, connection tokens)."""
        ...

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        """Frames the venue sends on its own clock, called every market tick (server pings)."""
        ...


class BaseDialect:
    """Shared plumbing: the model, the venue's grids by native symbol, number formatting."""

    exchange: ExchangeId

    def __init__(self) -> None:
        self.model: MarketModel | None = None
        self.endpoints = Endpoints("", "")
        self.grids: dict[str, Grid] = {}

    def bind(self, model: MarketModel, endpoints: Endpoints) -> None:
        self.model = model
        self.endpoints = endpoints
        self.grids = {g.native_symbol: g for g in model.grids if g.venue == self.exchange}

    @property
    def market(self) -> MarketModel:
        if self.model is None:
            raise RuntimeError(f"{type(self).__name__} is not bound to a model")
        return self.model

    def open_session(self, session: Session, now_ns: int) -> list[OutFrame]:
        return []

    def heartbeat(self, session: Session, now_ns: int) -> list[OutFrame]:
        return []

    def book_view(self, native_symbol: str, depth: int | None, now_ns: int) -> BookView:
        return self.market.book(self.exchange, native_symbol, depth, now_ns)

    @staticmethod
    def px(grid: Grid, ticks: int) -> str:
        return format(ticks * grid.tick, "f")

    @staticmethod
    def qty(grid: Grid, lots: int) -> str:
        return format(lots * grid.lot, "f")

    @staticmethod
    def decimal(value: Decimal) -> str:
        return format(value, "f")

    def levels(self, grid: Grid, levels: Iterable[tuple[int, int]]) -> list[list[str]]:
        return [[self.px(grid, p), self.qty(grid, q)] for p, q in levels]

    @staticmethod
    def number(grid: Grid, ticks: int) -> float:
        """A price as a JSON number, for venues that send numbers (exact for these grids)."""
        return float(ticks * grid.tick)

    @staticmethod
    def one_by_one(event: BookChange) -> list[tuple[bool, int, int]]:
        """The update's level changes as (is_bid, price ticks, lots), deletions first.

        For venues that send one level per message (KuCoin) or one action per message (BitMEX):
        with every deletion applied first, each intermediate book holds only levels of the final
        book, so it is never crossed.
        """
        changes = [(True, p, q) for p, q in event.bids] + [(False, p, q) for p, q in event.asks]
        return [c for c in changes if not c[2]] + [c for c in changes if c[2]]

    @staticmethod
    def dumps(payload: Any) -> str:
        return orjson.dumps(payload).decode()

    def frame(
        self, payload: Any, topic: str, channel: Channel, native_symbol: str, events: int = 1
    ) -> OutFrame:
        """A market-data frame for the sessions subscribed to ``topic``."""
        return OutFrame(self.dumps(payload), topic, ((channel, events),), native_symbol)

    @staticmethod
    def reply(payload: Any, *, close_code: int | None = None) -> OutFrame:
        """A direct answer to the client (ack, pong, error)."""
        return OutFrame(orjson.dumps(payload).decode(), close_code=close_code)


def ms(ns: int) -> int:
    return ns // 1_000_000
