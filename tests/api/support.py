"""Fakes for the API's unit tests: a store that answers by table, an in-memory rule store."""

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from schemas.alert import AlertRule
from services.api.store import StoreUnavailable

T0 = datetime(2026, 1, 1, tzinfo=UTC)

BBO_ROWS = [
    {
        "exchange": "binance_usdm",
        "symbol": "BTC-USDT-PERP",
        "ts": T0,
        "bid_price": Decimal("100.0"),
        "bid_qty": Decimal("1"),
        "ask_price": Decimal("100.5"),
        "ask_qty": Decimal("2"),
        "venue_seq": 7,
    },
    {
        "exchange": "bybit",
        "symbol": "BTC-USDT-PERP",
        "ts": T0,
        "bid_price": Decimal("100.2"),
        "bid_qty": Decimal("1"),
        "ask_price": Decimal("100.4"),
        "ask_qty": Decimal("3"),
        "venue_seq": 9,
    },
]


class FakeStore:
    """Answers each query with the rows given for the first table name found in its SQL."""

    def __init__(self, rows: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.rows = rows or {}
        self.queries: list[tuple[str, list[Any]]] = []
        self.down = False

    async def fetch(self, query: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        self.queries.append((query, list(params)))
        if self.down:
            raise StoreUnavailable("OperationalError")
        for table, rows in self.rows.items():
            if f" {table}" in query:
                limit = params[-2] if len(params) >= 2 and isinstance(params[-2], int) else len(rows)
                return [dict(row) for row in rows][: int(limit)]
        return []

    async def tables(self) -> set[str]:
        return set(self.rows)


class MemoryRules:
    def __init__(self) -> None:
        self.rules: dict[str, AlertRule] = {}

    async def all(self) -> list[AlertRule]:
        return [self.rules[k] for k in sorted(self.rules)]

    async def get(self, rule_id: str) -> AlertRule | None:
        return self.rules.get(rule_id)

    async def put(self, rule: AlertRule, *, who: str, create_only: bool = False) -> bool:
        if create_only and rule.id in self.rules:
            raise KeyError(rule.id)
        created = rule.id not in self.rules
        self.rules[rule.id] = rule
        return created

    async def delete(self, rule_id: str) -> bool:
        return self.rules.pop(rule_id, None) is not None


def rule_body(rule_id: str = "wide-spread", threshold: Any = "25") -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": "Wide spread",
        "metric": "liquidity.metrics.v1.spread_bps",
        "condition": ">",
        "threshold": threshold,
    }
