"""The gateway against input an attacker would send (each case was found by probing a live gateway)."""

import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from services.matching.gateway import GatewaySettings, create_app
from services.matching.gateway.market import MarketData
from tests.matching.test_gateway_app import ALICE, BOB, FakeOrders, FakePublisher

ORDER = {
    "symbol": "BTC-USDT",
    "client_order_id": "o1",
    "side": "buy",
    "order_type": "limit",
    "tif": "GTC",
    "price": "50000.0",
    "quantity": "0.010",
}


def gateway(publisher: FakePublisher, **settings: object) -> TestClient:
    config = GatewaySettings(api_keys="alice-key:alice,bob-key:bob", **settings)  # type: ignore[arg-type]
    return TestClient(create_app(config, publisher, FakeOrders(), MarketData()))


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(publisher: FakePublisher) -> Iterator[TestClient]:
    with gateway(publisher) as test_client:
        yield test_client


def test_a_number_too_large_for_a_float_is_a_422_not_a_500(client: TestClient) -> None:
    """A JSON number 1e400 as price made FastAPI's error renderer fail (inf is not JSON)."""
    body = '{"symbol":"BTC-USDT","side":"buy","order_type":"limit","price":1e400,"quantity":"1"}'
    response = client.post("/orders", content=body, headers={**ALICE, "content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "price"]


def test_validation_errors_never_echo_the_input(client: TestClient, publisher: FakePublisher) -> None:
    marker = "ECHO-ME-" + "x" * 5000
    response = client.post("/orders", json={**ORDER, "price": marker, "extra": marker}, headers=ALICE)
    assert response.status_code == 422
    assert "ECHO-ME" not in response.text
    assert len(response.content) < 2000
    assert not publisher.sent


def test_a_huge_body_is_refused_with_413_before_it_is_parsed(publisher: FakePublisher) -> None:
    """A 10 MB body was parsed in full (16 s of a blocked loop) and echoed back four times."""
    with gateway(publisher, max_body_bytes=64 * 1024) as client:
        body = b'{"symbol":"' + b"A" * 10_000_000 + b'"}'
        response = client.post("/orders", content=body, headers={**ALICE, "content-type": "application/json"})
        assert response.status_code == 413
        assert len(response.content) < 1000
        chunked = client.post(
            "/orders",
            content=iter([body[:5_000_000], body[5_000_000:]]),
            headers={**ALICE, "content-type": "application/json"},
        )
        assert chunked.status_code == 413, "a body without Content-Length is counted as it arrives"
        assert client.post("/orders", json=ORDER, headers=ALICE).status_code == 202
    assert len(publisher.sent) == 1


@pytest.mark.parametrize("field", ["symbol", "client_order_id"])
@pytest.mark.parametrize("bad", ["BTC\x00USDT", "BTC USDT", "BTC\nUSDT", "BTC-USDT\u202e"])
def test_identifiers_that_cannot_be_stored_are_refused_at_the_door(
    client: TestClient, publisher: FakePublisher, field: str, bad: str
) -> None:
    """A symbol with NUL was accepted (202) but could not be stored: GET gave 404 forever."""
    assert client.post("/orders", json={**ORDER, field: bad}, headers=ALICE).status_code == 422
    assert not publisher.sent
    assert client.post("/orders", json=ORDER, headers=ALICE).status_code == 202, "the same order, well formed"


def test_cancel_refuses_a_nul_in_the_path_or_query(client: TestClient, publisher: FakePublisher) -> None:
    assert client.delete("/orders/o%001", params={"symbol": "BTC-USDT"}, headers=ALICE).status_code == 422
    assert client.delete("/orders/o1", params={"symbol": "BTC\x00"}, headers=ALICE).status_code == 422
    assert not publisher.sent


def test_order_entry_is_rate_limited_per_key_with_retry_after(publisher: FakePublisher) -> None:
    """10,000 orders in 63 s were all accepted."""
    with gateway(publisher, rate_limit_per_s=1.0, rate_limit_burst=10) as client:
        codes = [
            client.post("/orders", json={**ORDER, "client_order_id": f"o{i}"}, headers=ALICE).status_code
            for i in range(30)
        ]
        assert codes[:10] == [202] * 10
        assert codes.count(429) >= 15
        limited = client.post("/orders", json=ORDER, headers=ALICE)
        assert limited.status_code == 429
        assert int(limited.headers["Retry-After"]) >= 1
        # Another key has its own allowance (the IP limit is wider than one key's).
        assert client.post("/orders", json=ORDER, headers=BOB).status_code == 202


def test_guessing_keys_is_rate_limited_per_client_address(publisher: FakePublisher) -> None:
    with gateway(publisher, rate_limit_per_s=1.0, rate_limit_burst=10) as client:
        codes = [
            client.post("/orders", json=ORDER, headers={"X-API-Key": f"guess-{i}"}).status_code
            for i in range(60)
        ]
        assert codes.count(401) < 60
        assert codes[-1] == 429


def test_a_refused_api_key_is_logged_without_the_key(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="services.matching.gateway"):
        assert client.post("/orders", json=ORDER, headers={"X-API-Key": "s3cret-guess"}).status_code == 401
    lines = [r for r in caplog.records if "api key" in r.getMessage()]
    assert lines, "a 401 is logged"
    assert all("s3cret-guess" not in r.getMessage() and "s3cret-guess" not in str(r.__dict__) for r in lines)
