"""The gateway's REST and WebSocket surface with fakes behind it (no Kafka, no database)."""

from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from fastapi.testclient import TestClient

from schemas.topics import topic
from services.matching.gateway import GatewaySettings, create_app
from services.matching.gateway.commands import (
    CommandNotAccepted,
    OrderCommand,
    Placement,
    command_json,
)
from services.matching.gateway.market import MarketData
from services.matching.gateway.models import OrderStatus
from services.matching.gateway.orders import OrderStoreUnavailable

ALICE = {"X-API-Key": "alice-key"}
BOB = {"X-API-Key": "bob-key"}


class FakePublisher:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.down = False

    async def publish(self, command: OrderCommand) -> Placement:
        if self.down:
            raise CommandNotAccepted("broker down")
        self.sent.append(command_json(command))
        return Placement(f"id{len(self.sent)}", 0, len(self.sent) - 1)


class FakeOrders:
    def __init__(self) -> None:
        self.rows: dict[tuple[str, str], OrderStatus] = {}
        self.down = False

    async def latest(self, account: str, client_order_id: str, symbol: str | None) -> OrderStatus | None:
        if self.down:
            raise OrderStoreUnavailable("database down")
        return self.rows.get((account, client_order_id))


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def orders() -> FakeOrders:
    return FakeOrders()


@pytest.fixture
def market() -> MarketData:
    return MarketData()


@pytest.fixture
def client(publisher: FakePublisher, orders: FakeOrders, market: MarketData) -> Iterator[TestClient]:
    settings = GatewaySettings(api_keys="alice-key:alice,bob-key:bob")
    with TestClient(create_app(settings, publisher, orders, market)) as test_client:
        yield test_client


def _commands(publisher: FakePublisher) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in publisher.sent]


def test_submit_puts_the_contract_json_with_the_keys_account(
    client: TestClient, publisher: FakePublisher
) -> None:
    body = {
        "symbol": "BTC-USDT",
        "client_order_id": "o1",
        "side": "buy",
        "order_type": "limit",
        "price": "50000.0",
        "quantity": "0.010",
    }
    answer = client.post("/orders", json=body, headers=ALICE)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "command_id": "id1",
        "type": "submit",
        "symbol": "BTC-USDT",
        "account": "alice",
        "client_order_id": "o1",
        "partition": 0,
        "offset": 0,
    }
    [command] = _commands(publisher)
    assert command == {"type": "submit", "account": "alice", **body}
    topic("venue.commands.v1").payload.validate_python(command)


def test_submit_generates_a_client_order_id_when_absent(client: TestClient, publisher: FakePublisher) -> None:
    body = {"symbol": "BTC-USDT", "side": "sell", "order_type": "market", "quantity": "1"}
    answer = client.post("/orders", json=body, headers=BOB)
    assert answer.status_code == 202
    [command] = _commands(publisher)
    assert command["client_order_id"] == answer.json()["client_order_id"]
    assert str(command["client_order_id"]).startswith("gw-")
    assert command["account"] == "bob"


def test_a_client_cannot_choose_its_account_or_send_unknown_fields(
    client: TestClient, publisher: FakePublisher
) -> None:
    body = {"symbol": "BTC-USDT", "side": "buy", "order_type": "market", "quantity": "1", "account": "bob"}
    assert client.post("/orders", json=body, headers=ALICE).status_code == 422
    off_pattern = {"symbol": "BTC-USDT", "side": "buy", "order_type": "market", "quantity": "1e3"}
    assert client.post("/orders", json=off_pattern, headers=ALICE).status_code == 422
    assert publisher.sent == []


def test_cancel_and_amend(client: TestClient, publisher: FakePublisher) -> None:
    cancelled = client.delete("/orders/o1", params={"symbol": "BTC-USDT"}, headers=ALICE)
    amended = client.patch("/orders/o2", json={"symbol": "BTC-USDT", "quantity": "0.020"}, headers=ALICE)
    assert (cancelled.status_code, amended.status_code) == (202, 202)
    assert _commands(publisher) == [
        {"type": "cancel", "symbol": "BTC-USDT", "account": "alice", "client_order_id": "o1"},
        {
            "type": "amend",
            "symbol": "BTC-USDT",
            "account": "alice",
            "client_order_id": "o2",
            "quantity": "0.020",
        },
    ]
    empty_amend = client.patch("/orders/o2", json={"symbol": "BTC-USDT"}, headers=ALICE)
    assert empty_amend.status_code == 422


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "nope"}, {"X-API-Key": ""}])
def test_order_entry_and_status_need_a_known_key(
    client: TestClient, publisher: FakePublisher, headers: dict[str, str]
) -> None:
    body = {"symbol": "BTC-USDT", "side": "buy", "order_type": "market", "quantity": "1"}
    assert client.post("/orders", json=body, headers=headers).status_code == 401
    assert client.delete("/orders/o1", params={"symbol": "BTC-USDT"}, headers=headers).status_code == 401
    assert client.patch("/orders/o1", json={"symbol": "X", "price": "1"}, headers=headers).status_code == 401
    assert client.get("/orders/o1", headers=headers).status_code == 401
    assert publisher.sent == []


def test_order_status_shows_only_the_keys_account(client: TestClient, orders: FakeOrders) -> None:
    status = OrderStatus(
        symbol="BTC-USDT",
        account="alice",
        client_order_id="o1",
        order_id=7,
        status="filled",
        side="buy",
        order_type="limit",
        tif="GTC",
        price="50000.0",
        stop_price=None,
        quantity="0.010",
        filled_quantity="0.010",
        remaining_quantity="0.000",
        cancelled_quantity=None,
        request=None,
        reason=None,
        seq=4,
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    orders.rows[("alice", "o1")] = status
    mine = client.get("/orders/o1", headers=ALICE)
    assert mine.status_code == 200
    assert mine.json()["status"] == "filled"
    assert client.get("/orders/o1", headers=BOB).status_code == 404


def test_unavailable_backends_answer_503(
    client: TestClient, publisher: FakePublisher, orders: FakeOrders
) -> None:
    publisher.down = orders.down = True
    body = {"symbol": "BTC-USDT", "side": "buy", "order_type": "market", "quantity": "1"}
    assert client.post("/orders", json=body, headers=ALICE).status_code == 503
    assert client.get("/orders/o1", headers=ALICE).status_code == 503


def _feed_book(market: MarketData) -> None:
    for event in (
        {
            "kind": "l2",
            "seq": 2,
            "symbol": "BTC-USDT",
            "l2_seq": 1,
            "side": "bid",
            "price": "100.0",
            "quantity": "1",
        },
        {
            "kind": "l2",
            "seq": 3,
            "symbol": "BTC-USDT",
            "l2_seq": 2,
            "side": "ask",
            "price": "101.0",
            "quantity": "2",
        },
        {
            "kind": "bbo",
            "seq": 3,
            "symbol": "BTC-USDT",
            "l2_seq": 2,
            "bid_price": "100.0",
            "bid_quantity": "1",
            "ask_price": "101.0",
            "ask_quantity": "2",
        },
    ):
        market.apply_market_data(orjson.dumps(event))


def test_market_data_is_public(client: TestClient, market: MarketData) -> None:
    assert client.get("/market/BTC-USDT/bbo").status_code == 404
    assert client.get("/market/BTC-USDT/depth").status_code == 404
    _feed_book(market)
    assert client.get("/market").json() == ["BTC-USDT"]
    assert client.get("/market/BTC-USDT/bbo").json()["ask_price"] == "101.0"
    depth = client.get("/market/BTC-USDT/depth", params={"levels": 5}).json()
    assert depth["bids"] == [{"price": "100.0", "quantity": "1"}]
    assert depth["asks"] == [{"price": "101.0", "quantity": "2"}]
    assert depth["complete"] is True
    assert client.get("/market/BTC-USDT/depth", params={"levels": 0}).status_code == 422


def test_openapi_documents_every_endpoint_and_the_key(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert set(spec["paths"]) >= {
        "/orders",
        "/orders/{client_order_id}",
        "/market",
        "/market/{symbol}/bbo",
        "/market/{symbol}/depth",
    }
    assert set(spec["paths"]["/orders/{client_order_id}"]) == {"get", "delete", "patch"}
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    assert "security" in spec["paths"]["/orders"]["post"]
    assert "security" not in spec["paths"]["/market/{symbol}/bbo"]["get"]


def test_websockets_stream_depth_then_updates_and_trades(client: TestClient, market: MarketData) -> None:
    _feed_book(market)
    portal = client.portal
    assert portal is not None
    with (
        client.websocket_connect("/ws/md?symbol=BTC-USDT") as md,
        client.websocket_connect("/ws/trades") as trades,
    ):
        first = md.receive_json()
        assert first["kind"] == "depth"
        assert (first["symbol"], first["l2_seq"], len(first["bids"])) == ("BTC-USDT", 2, 1)
        update = {
            "kind": "l2",
            "seq": 4,
            "symbol": "BTC-USDT",
            "l2_seq": 3,
            "side": "bid",
            "price": "99.0",
            "quantity": "1",
        }
        trade = {"kind": "trade", "seq": 5, "symbol": "BTC-USDT", "trade_id": 1}
        # The market is fed on the app's event loop, as the Kafka feed does.
        portal.call(market.apply_market_data, orjson.dumps(update))
        portal.call(market.apply_trade, orjson.dumps(trade))
        assert md.receive_json() == update
        assert trades.receive_json() == trade
    assert market.subscriber_count == 0 or _eventually_unsubscribed(client, market)


def _eventually_unsubscribed(client: TestClient, market: MarketData) -> bool:
    import time

    deadline = time.monotonic() + 5
    while market.subscriber_count and time.monotonic() < deadline:
        time.sleep(0.05)
    return market.subscriber_count == 0
