"""The query API without a server: routes, pages, filters, security and errors (FastAPI TestClient)."""

import hashlib
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from schemas.alert import AlertRule
from services.api.app import Rules, create_app, parse_interval
from services.api.hub import Hub
from services.api.settings import ApiSettings
from services.instruments.catalog import load_snapshot
from tests.api.support import BBO_ROWS, T0, FakeStore, MemoryRules, rule_body

READ_KEY = "read-key-0123456789"
WRITE_KEY = "write-key-0123456789"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _settings(**overrides: Any) -> ApiSettings:
    values: dict[str, Any] = {
        "keys": f"{_digest(READ_KEY)}:read:reader,{_digest(WRITE_KEY)}:write:writer",
        "rate_limit_per_ip": 1000.0,
        "rate_limit_per_key": 1000.0,
        **overrides,
    }
    return ApiSettings(**values)


def _rejects_bad_rules(rule: AlertRule) -> None:
    if not rule.metric.startswith("liquidity.metrics.v1."):
        raise ValueError(f"unknown metric {rule.metric}")


@pytest.fixture
def store() -> FakeStore:
    return FakeStore({"book_bbo": BBO_ROWS})


@pytest.fixture
def rules() -> MemoryRules:
    return MemoryRules()


def _client(store: FakeStore, rules: MemoryRules | None = None, **overrides: Any) -> TestClient:
    rule_backend = Rules(AlertRule, _rejects_bad_rules, rules) if rules is not None else None
    app = create_app(_settings(**overrides), store, Hub(["md.status.v1"], 10), load_snapshot(), rule_backend)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(store: FakeStore, rules: MemoryRules) -> Iterator[TestClient]:
    with _client(store, rules) as test_client:
        yield test_client


def test_prices_have_the_cross_venue_best_bid_and_ask(client: TestClient, store: FakeStore) -> None:
    answer = client.get("/v1/prices", params={"symbol": "BTC-USDT-PERP"})
    assert answer.status_code == 200
    body = answer.json()
    assert [q["exchange"] for q in body["items"]] == ["binance_usdm", "bybit"]
    assert body["items"][0]["bid_price"] == "100.0"  # decimal strings, not floats
    [best] = body["best"]
    assert (best["best_bid_exchange"], best["best_bid"]) == ("bybit", "100.2")
    assert (best["best_ask_exchange"], best["best_ask"]) == ("bybit", "100.4")
    assert best["venues"] == 2
    assert body["next_offset"] is None
    sql, params = store.queries[-1]
    assert "symbol = %s" in sql
    assert "BTC-USDT-PERP" in params


def test_pages_say_where_the_next_one_starts(client: TestClient) -> None:
    body = client.get("/v1/prices", params={"limit": 1}).json()
    assert len(body["items"]) == 1
    assert body["next_offset"] == 1


def test_filters_become_parameters(client: TestClient, store: FakeStore) -> None:
    answer = client.get(
        "/v1/funding",
        params={
            "exchange": "okx",
            "symbol": "ETH-USDT-PERP",
            "start": "2026-01-01T00:00:00",
            "end": "1767229200000000000",
        },
    )
    assert answer.status_code == 200
    sql, params = store.queries[-1]
    assert "funding_rates" in sql
    assert "exchange = %s" in sql
    assert "ts >= %s" in sql
    assert "ts < %s" in sql
    assert "okx" in params
    assert "ETH-USDT-PERP" in params
    assert all("okx" not in part for part in sql.split("%s"))  # values never in the SQL text
    assert params[2].tzinfo is not None  # naive ISO times are UTC


def test_arbitrage_exchange_matches_either_venue(client: TestClient, store: FakeStore) -> None:
    assert client.get("/v1/arbitrage/opportunities", params={"exchange": "bybit"}).status_code == 200
    sql, params = store.queries[-1]
    assert "arb_open_opportunities" in sql
    assert "(buy_exchange = %s OR sell_exchange = %s)" in sql
    assert params[:2] == ["bybit", "bybit"]
    client.get("/v1/arbitrage/opportunities", params={"state": "recent"})
    assert "FROM arb_opportunities" in store.queries[-1][0]


def test_liquidity_rows_carry_depth_bands() -> None:
    row: dict[str, Any] = {
        "ts": T0,
        "exchange": "okx",
        "symbol": "BTC-USDT-PERP",
        "best_bid": None,
        "best_ask": None,
        "mid": None,
        "spread_bps": 1.5,
        "imbalance": 0.1,
        "buy_slippage_bps": None,
        "sell_slippage_bps": None,
        "spread_z": None,
        "depth_z": None,
        "crunch_active": False,
    }
    for bps in (10, 25, 50, 100):
        for side in ("bid", "ask"):
            row[f"{side}_depth_{bps}bps"] = Decimal(bps)
            row[f"{side}_notional_{bps}bps"] = Decimal(bps * 100)
    with _client(FakeStore({"liquidity_metrics": [row]})) as client:
        body = client.get("/v1/liquidity/okx/BTC-USDT-PERP").json()
    [item] = body["items"]
    assert [band["bps"] for band in item["bands"]] == [10, 25, 50, 100]
    assert item["bands"][1]["bid_notional"] == "2500"


def test_exchanges_list_catalog_capabilities(client: TestClient) -> None:
    body = client.get("/v1/exchanges", params={"limit": 100}).json()
    assert len(body["items"]) == 13
    binance = next(e for e in body["items"] if e["exchange"] == "binance_usdm")
    assert binance["instruments"] > 0
    assert "BTC-USDT-PERP" in binance["symbols"]
    assert binance["status"] is None
    assert len(client.get("/v1/exchanges", params={"exchange": "okx"}).json()["items"]) == 1


def test_intervals() -> None:
    assert parse_interval("1m") == 60
    assert parse_interval("300") == 300
    assert parse_interval("2h") == 7200


@pytest.mark.parametrize(
    "path",
    [
        "/v1/ohlc/binance_usdm/BTC-USDT-PERP/7x",
        "/v1/ohlc/nowhere/BTC-USDT-PERP/1m",
        "/v1/ohlc/binance_usdm/btcusdt/1m",
        "/v1/prices?limit=0",
        "/v1/prices?limit=100000000",
        "/v1/funding?start=yesterday",
    ],
)
def test_bad_parameters_are_422_without_echo(client: TestClient, path: str) -> None:
    answer = client.get(path)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid"
    for echoed in ("7x", "nowhere", "btcusdt", "100000000", "yesterday"):
        assert echoed not in answer.text


def test_unknown_route_is_json_404_with_correlation_id(client: TestClient) -> None:
    answer = client.get("/v1/<script>")
    assert answer.status_code == 404
    assert answer.json()["error"]["correlation_id"] == answer.headers["x-request-id"]
    assert "<script>" not in answer.text


def test_correlation_id_is_kept_from_the_client_and_logged(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="services.api.security"):
        answer = client.get("/v1/prices", headers={"X-Request-ID": "abc-123"})
    assert answer.headers["x-request-id"] == "abc-123"
    assert any(getattr(r, "correlation_id", None) == "abc-123" for r in caplog.records)
    # An id the client made up badly is replaced, not reflected.
    answer = client.get("/v1/prices", headers={"X-Request-ID": "<bad id>"})
    assert answer.headers["x-request-id"] != "<bad id>"


def test_database_down_is_503_without_details(client: TestClient, store: FakeStore) -> None:
    store.down = True
    answer = client.get("/v1/prices")
    assert answer.status_code == 503
    assert "OperationalError" not in answer.text


def test_unexpected_error_is_500_without_stack(store: FakeStore) -> None:
    async def broken(query: str, params: Any) -> list[dict[str, Any]]:
        raise RuntimeError("secret internals /etc/passwd")

    store.fetch = broken  # type: ignore[method-assign]
    with _client(store) as client:
        answer = client.get("/v1/prices")
    assert answer.status_code == 500
    assert answer.json()["error"]["message"] == "internal error"
    assert "secret" not in answer.text
    assert "Traceback" not in answer.text


# ---- security -------------------------------------------------------------------------------


def test_write_needs_a_write_key(client: TestClient) -> None:
    body = rule_body()
    assert client.post("/v1/alert-rules", json=body).status_code == 401
    assert client.post("/v1/alert-rules", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/v1/alert-rules", json=body, headers={"X-API-Key": READ_KEY}).status_code == 403
    created = client.post("/v1/alert-rules", json=body, headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert created.status_code == 201
    assert client.get("/v1/alert-rules").json()[0]["id"] == "wide-spread"
    assert client.post("/v1/alert-rules", json=body, headers={"X-API-Key": WRITE_KEY}).status_code == 409
    assert client.delete("/v1/alert-rules/wide-spread", headers={"X-API-Key": READ_KEY}).status_code == 403
    assert client.delete("/v1/alert-rules/wide-spread", headers={"X-API-Key": WRITE_KEY}).status_code == 204
    assert client.get("/v1/alert-rules/wide-spread").status_code == 404


def test_a_rule_the_service_cannot_evaluate_is_422_without_echo(client: TestClient) -> None:
    body = {**rule_body(), "metric": "nowhere.v1.evil_field"}
    answer = client.post("/v1/alert-rules", json=body, headers={"X-API-Key": WRITE_KEY})
    assert answer.status_code == 422
    assert "evil_field" not in answer.text


def test_huge_number_is_422_not_500(client: TestClient) -> None:
    raw = b'{"id": "big", "name": "n", "metric": "liquidity.metrics.v1.spread_bps", "condition": ">", "threshold": 1e400}'
    answer = client.post(
        "/v1/alert-rules", content=raw, headers={"X-API-Key": WRITE_KEY, "Content-Type": "application/json"}
    )
    assert answer.status_code == 422
    assert "1e400" not in answer.text


def test_ten_megabyte_body_is_413_without_parsing(client: TestClient) -> None:
    body = b"{" + b" " * (10 * 1024 * 1024) + b"}"
    answer = client.post(
        "/v1/alert-rules", content=body, headers={"X-API-Key": WRITE_KEY, "Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "body_too_large"


def test_chunked_body_over_the_limit_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(200):
            yield b" " * 1024

    answer = client.post(
        "/v1/alert-rules",
        content=chunks(),
        headers={"X-API-Key": WRITE_KEY, "Content-Type": "application/json"},
    )
    assert answer.status_code == 413


def test_rate_limit_answers_429_with_retry_after(store: FakeStore) -> None:
    with _client(store, rate_limit_per_ip=1.0, rate_limit_burst_s=3.0) as client:
        codes = [client.get("/v1/prices").status_code for _ in range(5)]
        assert codes[:3] == [200, 200, 200]
        assert codes[3] == 429
        answer = client.get("/v1/prices")
    assert answer.status_code == 429
    assert int(answer.headers["retry-after"]) >= 1
    assert answer.json()["error"]["code"] == "rate_limited"


def test_rate_limit_per_key(store: FakeStore) -> None:
    with _client(store, rate_limit_per_key=1.0, rate_limit_burst_s=2.0) as client:
        codes = [client.get("/v1/prices", headers={"X-API-Key": READ_KEY}).status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        # The IP still has its own budget without that key.
        assert client.get("/v1/prices").status_code == 200


def test_reads_can_require_a_key(store: FakeStore) -> None:
    with _client(store, require_read_key=True) as client:
        assert client.get("/v1/prices").status_code == 401
        assert client.get("/v1/prices", headers={"X-API-Key": READ_KEY}).status_code == 200


def test_cors_is_configurable(store: FakeStore) -> None:
    with _client(store, cors_origins="https://example.org") as client:
        allowed = client.get("/v1/prices", headers={"Origin": "https://example.org"})
        other = client.get("/v1/prices", headers={"Origin": "https://evil.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://example.org"
    assert "access-control-allow-origin" not in other.headers


def test_keys_are_configured_as_hashes() -> None:
    with pytest.raises(ValueError, match="sha256"):
        ApiSettings(keys="plain-text-key:write")


def test_openapi_and_dashboard_are_served(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in (
        "/v1/prices",
        "/v1/exchanges",
        "/v1/books/{exchange}/{symbol}",
        "/v1/alerts",
        "/v1/alert-rules",
    ):
        assert path in schema["paths"]
    assert client.get("/docs").status_code == 200
    page = client.get("/")
    assert page.status_code == 200
    assert "lightweight-charts" in page.text
    assert client.get("/static/vendor/lightweight-charts.standalone.production.js").status_code == 200
