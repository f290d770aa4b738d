"""The alert service on the real broker and database, with a real webhook receiver.

1. Rules come from the compacted ``alert.rules.v1`` (read at start; a change while running
   applies without a restart). Candles and connector statuses go through Kafka; the
   notifications on ``alerts.v1`` equal the ``alert_history`` rows, once each, and equal what the
   core computes offline from the same inputs. A connector that is down suppresses its venue's
   alert (recorded, not delivered).
2. The webhook is down for 30 s, then up: every delivered notification arrives exactly once by
   idempotency key (the outbox keeps them while it is down).
3. The delivery worker is killed with SIGKILL mid-delivery and restarted: nothing is lost,
   nothing is accepted twice by key.
"""

import asyncio
import itertools
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from aiohttp import web
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from schemas.alert import AlertNotification, AlertRule, AlertRuleChange
from schemas.common import ExchangeId
from schemas.market_data import Candle, ConnectorState, ConnectorStatus
from services.alert.delivery import DeliverySettings, OutboxDelivery, parse_webhooks
from services.alert.service import AlertSettings, build_engine, build_processor
from services.runtime.service import StreamService
from services.runtime.settings import Settings
from services.runtime.topics import ensure_topics
from tests.integration.helpers import (
    REPO_ROOT,
    read_topic,
    start_service_process,
    wait_until_consumed,
    wait_until_ready,
)

S = 1_000_000_000
T0 = 1_723_161_240 * S
INPUTS = "md.candles.v1,md.status.v1"
DOWN_S = 30.0


def candle(seconds: int, close: int, exchange: str, symbol: str) -> Candle:
    price = Decimal(close)
    ts = T0 + seconds * S
    return Candle(
        exchange=ExchangeId(exchange),
        symbol=symbol,
        native_symbol=symbol.replace("-PERP", "").replace("-", ""),
        exchange_ts=ts,
        receive_ts=ts,
        interval_s=1,
        close_ts=ts + S - 1,
        open=price,
        high=price,
        low=price,
        close=price,
        volume=Decimal(1),
        notional=price,
        trade_count=1,
        closed=True,
    )


HOT = AlertRule.model_validate(
    {
        "id": "hot",
        "name": "Close above 100",
        "metric": "md.candles.v1.close",
        "condition": ">",
        "threshold": "100",
        "for": "5s",
        "keep_firing_for": "3s",
        "repeat_interval": "10s",
        "severity": "warning",
    }
)
LOW = AlertRule.model_validate(
    {
        "id": "low",
        "name": "OKX close below 60",
        "metric": "md.candles.v1.close",
        "condition": "<",
        "threshold": "60",
        "scope": {"exchange": "okx"},
        "repeat_interval": "0s",
        "severity": "critical",
    }
)
DOWN = ConnectorStatus(
    exchange=ExchangeId.BINANCE_USDM,
    connection_id="ws-1",
    state=ConnectorState.DISCONNECTED,
    symbols=["BTC-USDT-PERP"],
    ts=T0,
)


def first_phase() -> list[Candle]:
    events = []
    for t in range(60):
        events.append(candle(t, 99 if t < 10 else 150 if t < 40 else 50, "okx", "ETH-USDT-PERP"))
        events.append(candle(t, 150, "bybit", "BTC-USDT-PERP"))
        events.append(candle(t, 150, "binance_usdm", "BTC-USDT-PERP"))
    return events


def second_phase() -> list[Candle]:
    # Short enough that no other series has a deadline in it: whichever partition each key
    # lands on, the result is the same.
    return [candle(t, 50, "okx", "ETH-USDT-PERP") for t in range(60, 64)]


def change(rule: AlertRule, version: int) -> AlertRuleChange:
    return AlertRuleChange(rule_id=rule.id, rule=rule, version=version, changed_at=datetime.now(UTC))


async def produce(settings: Settings, records: list[tuple[str, BaseModel]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for topic, event in records:
            key = getattr(event, "key", None)
            await producer.send_and_wait(
                settings.topic_name(topic),
                event.model_dump_json().encode(),
                key=key.encode() if key else None,
            )
    finally:
        await producer.stop()


def reference() -> list[AlertNotification]:
    """What the core computes from the same inputs, without Kafka or a database."""
    engine, left_out = build_engine(
        tuple(INPUTS.split(",")),
        builtins=False,
        rules=[HOT],
        lateness_ns=AlertSettings().lateness_ms * 1_000_000,
    )
    assert not left_out
    notes = engine.on_event("md.status.v1", DOWN, "status")
    for event in first_phase():
        notes += engine.on_event("md.candles.v1", event, event.key)
    notes += engine.set_rule(LOW)
    for event in second_phase():
        notes += engine.on_event("md.candles.v1", event, event.key)
    return notes


@dataclass
class Receiver:
    """A webhook receiver that deduplicates by idempotency key, as the contract asks of one."""

    down_until: float = 0.0
    delay_s: float = 0.0
    accepted: dict[str, dict[str, Any]] = field(default_factory=dict)
    duplicates: Counter[str] = field(default_factory=Counter)
    refused: int = 0

    async def hook(self, request: web.Request) -> web.Response:
        if time.monotonic() < self.down_until:
            self.refused += 1
            return web.Response(status=503, text="down for maintenance")
        body = await request.json()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        key = request.headers["Idempotency-Key"]
        assert body["idempotency_key"] == key
        if key in self.accepted:
            self.duplicates[key] += 1
            return web.Response(status=409, text="already have it")
        self.accepted[key] = body
        return web.Response(status=200, text="ok")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, str]]:
    state = Receiver()
    app = web.Application()
    app.router.add_post("/hook", state.hook)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield state, f"hook=http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()


async def wait_for(what: str, check: Callable[[], bool], timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


def outbox_pending(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM alert_outbox WHERE delivered_at IS NULL").fetchone()
    assert row is not None
    return int(row[0])


async def run_alert_service(settings: Settings, webhooks: str) -> None:
    """Phase one and two through a running service; returns once everything is committed."""
    await ensure_topics(settings)
    await produce(settings, [("alert.rules.v1", change(HOT, 1))])
    processor = build_processor(AlertSettings(builtin_rules=False, inputs=INPUTS, webhooks=webhooks))
    service = StreamService(processor, settings)
    running = asyncio.create_task(service.run())
    group = f"{settings.consumer_group_prefix}.alert"
    try:
        # The connector status first, so the inhibition does not depend on partition interleaving.
        await produce(settings, [("md.status.v1", DOWN)])
        await wait_until_consumed(settings, group, "md.status.v1")
        await produce(settings, [("md.candles.v1", c) for c in first_phase()])
        await wait_until_consumed(settings, group, "md.candles.v1")
        # A rule added while the service runs applies to the next records, without a restart.
        await produce(settings, [("alert.rules.v1", change(LOW, 1))])
        await wait_for("the live rule change", lambda: "low" in processor.engine.rules, 30)
        await produce(settings, [("md.candles.v1", c) for c in second_phase()])
        await wait_until_consumed(settings, group, "md.candles.v1")
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)


def history(database_url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT idempotency_key, status, suppressed, value FROM alert_history").fetchall()


async def test_alerts_equal_history_and_reach_a_webhook_that_was_down(
    settings: Settings, receiver: tuple[Receiver, str]
) -> None:
    state, webhooks = receiver
    state.down_until = time.monotonic() + DOWN_S
    targets = parse_webhooks(webhooks)
    fast = DeliverySettings(
        webhooks=webhooks, delivery_backoff_s=0.2, delivery_max_backoff_s=2.0, delivery_poll_s=0.2
    )
    delivery = OutboxDelivery(settings.database_url, targets, fast)
    delivering = asyncio.create_task(delivery.run())
    try:
        await run_alert_service(settings, webhooks)
        expected = reference()
        on_topic = [event for _, event in await read_topic(settings, "alerts.v1")]
        await wait_for("the outbox to drain", lambda: outbox_pending(settings.database_url) == 0, DOWN_S + 90)
    finally:
        delivery.request_stop()
        await asyncio.wait_for(delivering, timeout=30)

    assert all(isinstance(n, AlertNotification) for n in on_topic)
    keys = [n.idempotency_key for n in on_topic]
    assert len(keys) == len(set(keys)), "duplicate notifications on alerts.v1"
    assert {n.idempotency_key: n for n in on_topic} == {n.idempotency_key: n for n in expected}
    rows = history(settings.database_url)
    assert len(rows) == len({r[0] for r in rows}) == len(on_topic)
    assert {r[0]: (r[1], r[2], Decimal(r[3])) for r in rows} == {
        n.idempotency_key: (n.status.value, n.suppressed, n.value) for n in on_topic
    }
    # What each series did, by exchange time.
    story = sorted(
        (
            n.labels["exchange"],
            n.rule_id,
            n.status.value,
            n.reminder,
            (n.event_ts - T0) // S,
            bool(n.suppressed),
        )
        for n in on_topic
    )
    assert story == sorted(
        [
            ("okx", "hot", "firing", 0, 15, False),
            ("okx", "hot", "firing", 1, 25, False),
            ("okx", "hot", "firing", 2, 35, False),
            ("okx", "hot", "resolved", 2, 43, False),
            ("okx", "low", "firing", 0, 60, False),
            *[("bybit", "hot", "firing", i, 5 + 10 * i, False) for i in range(6)],
            ("binance_usdm", "hot", "firing", 0, 5, True),
        ]
    )
    # Webhook: down for 30 s, then every delivered notification exactly once by key.
    delivered = {n.idempotency_key for n in on_topic if not n.suppressed}
    assert state.refused > 0
    assert set(state.accepted) == delivered
    assert not state.duplicates
    print(
        f"{len(on_topic)} notifications, {state.refused} refused while down, {len(state.accepted)} delivered"
    )


async def test_delivery_killed_mid_delivery_loses_nothing_and_sends_nothing_twice(
    settings: Settings, receiver: tuple[Receiver, str], tmp_path: Path
) -> None:
    state, webhooks = receiver
    state.delay_s = 0.4  # slow receiver: the kill lands while requests are in flight
    await run_alert_service(settings, webhooks)
    total = outbox_pending(settings.database_url)
    assert total >= 10
    env = {
        "PERPWATCH_DATABASE_URL": settings.database_url,
        "PERPWATCH_ALERT_WEBHOOKS": webhooks,
        "PERPWATCH_ALERT_DELIVERY_LEASE_S": "3",
        "PERPWATCH_ALERT_DELIVERY_POLL_S": "0.2",
        "PERPWATCH_ALERT_DELIVERY_BATCH": "4",
        "PERPWATCH_LOG_FORMAT": "console",
    }
    log_path = tmp_path / "delivery.log"

    def start() -> subprocess.Popen[bytes]:
        with log_path.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli", "run", "alert-delivery"],
                cwd=REPO_ROOT,
                env={**_base_env(), **env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    first = start()
    try:
        await wait_for("a few deliveries", lambda: len(state.accepted) >= 3, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    killed_at = len(state.accepted)
    assert killed_at < total, "the kill came too late to land mid-delivery"
    second = start()
    try:
        await wait_for("the outbox to drain", lambda: outbox_pending(settings.database_url) == 0, 120)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    delivered = {n.idempotency_key for _, n in await read_topic(settings, "alerts.v1") if not n.suppressed}
    assert set(state.accepted) == delivered
    assert len(state.accepted) == total
    # A request in flight at the kill is sent again with its key; the receiver drops the copy.
    assert sum(state.duplicates.values()) <= 4
    print(
        f"killed after {killed_at} of {total}; re-sent copies dropped by key: {sum(state.duplicates.values())}"
    )


def _base_env() -> dict[str, str]:
    import os

    return dict(os.environ)


async def test_rule_crud_needs_keys_refuses_bad_rules_and_applies_to_the_running_service(
    settings: Settings,
) -> None:
    import httpx

    from services.alert.rules_api import RulesApiSettings, create_app

    await ensure_topics(settings)
    alert = AlertSettings(builtin_rules=False, inputs=INPUTS)
    app = create_app(settings, RulesApiSettings(keys="w-secret:write,r-secret:read"), alert)
    processor = build_processor(alert)
    service = StreamService(processor, settings)
    running = asyncio.create_task(service.run())
    group = f"{settings.consumer_group_prefix}.alert"
    writer, reader = {"X-API-Key": "w-secret"}, {"Authorization": "Bearer r-secret"}
    body = HOT.model_dump(mode="json")
    try:
        await wait_for("the service to follow the rule topic", lambda: processor.following_rules, 60)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://rules"
        ) as client:
            assert (await client.put("/rules/hot", json=body)).status_code == 401
            assert (
                await client.put("/rules/hot", json=body, headers={"X-API-Key": "nope"})
            ).status_code == 401
            assert (await client.put("/rules/hot", json=body, headers=reader)).status_code == 403
            bad = await client.put("/rules/hot", json=body | {"metric": "md.candles.v1.nope"}, headers=writer)
            assert bad.status_code == 422
            assert "'nope' is not a field of md.candles.v1" in bad.json()["detail"]["reasons"][0]
            not_read = await client.put(
                "/rules/hot", json=body | {"metric": "md.trades.v1.price"}, headers=writer
            )
            assert not_read.status_code == 422, "a topic the service does not read is refused"
            assert (
                await client.put("/rules/hot", json=body | {"condition": "=>"}, headers=writer)
            ).status_code == 422
            assert (await client.get("/rules/hot", headers=reader)).status_code == 404, (
                "bad rules are never stored"
            )
            created = await client.put("/rules/hot", json=body, headers=writer)
            assert created.status_code == 201
            assert (await client.get("/rules/hot", headers=reader)).json() == body
            assert (await client.post("/rules", json=body, headers=writer)).status_code == 409
            assert [r["id"] for r in (await client.get("/rules", headers=reader)).json()["rules"]] == ["hot"]

            # The change reaches the running service through alert.rules.v1: no restart.
            await wait_for("the rule in the running service", lambda: "hot" in processor.engine.rules, 30)
            await produce(
                settings, [("md.candles.v1", candle(t, 150, "okx", "ETH-USDT-PERP")) for t in range(8)]
            )
            await wait_until_consumed(settings, group, "md.candles.v1")

            assert (await client.delete("/rules/hot", headers=reader)).status_code == 403
            assert (await client.delete("/rules/hot", headers=writer)).status_code == 204
            assert (await client.delete("/rules/hot", headers=writer)).status_code == 404
            await wait_for(
                "the deletion in the running service", lambda: "hot" not in processor.engine.rules, 30
            )
            await produce(settings, [("md.candles.v1", candle(8, 150, "okx", "ETH-USDT-PERP"))])
            await wait_until_consumed(settings, group, "md.candles.v1")
    finally:
        service.request_stop()
        await asyncio.wait_for(running, timeout=60)
        await app.state.store.close()

    notes = [n for _, n in await read_topic(settings, "alerts.v1")]
    assert [(n.rule_id, n.status.value, (n.event_ts - T0) // S, n.reason) for n in notes] == [
        ("hot", "firing", 5, ""),
        ("hot", "resolved", 7, "rule deleted"),
    ]
    changes = [c for _, c in await read_topic(settings, "alert.rules.v1")]
    assert [(c.rule_id, c.version, c.rule is None) for c in changes] == [("hot", 1, False), ("hot", 2, True)]
    with psycopg.connect(settings.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM alert_rules").fetchone() == (0,)


async def test_the_service_killed_mid_stream_restores_its_firing_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    """SIGKILL of the alert service, restart: no notification twice, none re-announced."""
    from tests.book_builder.streams import committed_offset

    await ensure_topics(settings)
    await produce(settings, [("alert.rules.v1", change(HOT, 1))])
    cycle = [(t, 150 if (t // 30) % 2 == 0 else 50, "okx", "ETH-USDT-PERP") for t in range(600)] + [
        (t, 150, "bybit", "BTC-USDT-PERP") for t in range(600)
    ]
    events = [candle(*c) for c in sorted(cycle)]
    head, tail = events[:700], events[700:]
    env = {"PERPWATCH_ALERT_INPUTS": INPUTS, "PERPWATCH_ALERT_BUILTIN_RULES": "false"}
    log_path = tmp_path / "alert.log"
    group = f"{settings.consumer_group_prefix}.alert"
    first, port = start_service_process(["services.cli", "run", "alert"], settings, log_path, env)
    try:
        await wait_until_ready(first, port, log_path)
        for start in range(0, len(head), 50):
            await produce(settings, [("md.candles.v1", c) for c in head[start : start + 50]])
        deadline = time.monotonic() + 60
        while await committed_offset(settings, group, "md.candles.v1") < 300:
            assert time.monotonic() < deadline, "no commits"
            await asyncio.sleep(0.2)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    second, port = start_service_process(["services.cli", "run", "alert"], settings, log_path, env)
    try:
        await wait_until_ready(second, port, log_path)
        await produce(settings, [("md.candles.v1", c) for c in tail])
        await wait_until_consumed(settings, group, "md.candles.v1")
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=60)

    notes = [n for _, n in await read_topic(settings, "alerts.v1")]
    keys = [n.idempotency_key for n in notes]
    assert len(keys) == len(set(keys)), "a notification published twice"
    rows = history(settings.database_url)
    assert {r[0] for r in rows} == set(keys)
    assert len(rows) == len(keys)
    episodes: dict[tuple[str, int], list[AlertNotification]] = {}
    for note in sorted(notes, key=lambda n: (n.event_ts, n.status.value == "resolved")):
        episodes.setdefault((note.fingerprint, note.starts_at), []).append(note)
    for story in episodes.values():
        firing = [n for n in story if n.status.value == "firing"]
        assert [n.reminder for n in firing] == list(range(len(firing))), "re-announced or a reminder lost"
        assert all(b.event_ts - a.event_ts >= 10 * S for a, b in itertools.pairwise(firing))
        assert [n.status.value for n in story].count("resolved") <= 1
        assert story[-1].status.value == "resolved" or story[-1] is firing[-1]
    bybit = [e for (fp, _), e in episodes.items() if e[0].labels["exchange"] == "bybit"]
    assert len(bybit) == 1, "the always-firing alert was announced again after the restart"
    assert [n.reminder for n in bybit[0]] == list(range(len(bybit[0])))
    assert (bybit[0][-1].event_ts - T0) // S >= 595
    okx = [e for (fp, _), e in episodes.items() if e[0].labels["exchange"] == "okx"]
    assert len(okx) == 10
    assert all(e[-1].status.value == "resolved" for e in okx[:-1])
