"""Webhook targets, payload templates and backoff (the I/O is in the integration test)."""

import random

import orjson
import pytest

from services.alert.delivery import WebhookTarget, backoff_s, parse_webhooks, render
from services.alert.rules_api import parse_keys
from tests.alert.events import candle, engine, rule


def notification() -> dict[str, object]:
    [note] = engine(rule(severity="critical")).on_event("md.candles.v1", candle(0, 150))
    document: dict[str, object] = orjson.loads(note.model_dump_json())
    return document


def test_webhook_targets() -> None:
    targets = parse_webhooks(
        "ops=https://hooks.example/a, slack=https://hooks.slack.com/x|slack,"
        "tg=https://api.telegram.org/bot1:T/sendMessage|telegram:-100123"
    )
    assert targets == [
        WebhookTarget("ops", "https://hooks.example/a", "json"),
        WebhookTarget("slack", "https://hooks.slack.com/x", "slack"),
        WebhookTarget("tg", "https://api.telegram.org/bot1:T/sendMessage", "telegram", "-100123"),
    ]
    assert parse_webhooks("") == []


@pytest.mark.parametrize(
    "bad",
    ["ops", "ops=ftp://x", "ops=https://x|teams", "tg=https://x|telegram", "a=https://x,a=https://y"],
)
def test_bad_webhook_targets(bad: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        parse_webhooks(bad)


def test_json_body_is_the_notification_with_its_idempotency_key() -> None:
    note = notification()
    assert render(WebhookTarget("ops", "https://x"), note) == note
    assert note["idempotency_key"]


def test_slack_and_telegram_templates() -> None:
    note = notification()
    slack = render(WebhookTarget("s", "https://x", "slack"), note)
    assert slack["text"].startswith("[FIRING] [CRITICAL] ETH close high: md.candles.v1.close = 150 > 100")
    assert slack["attachments"][0]["color"] == "danger"
    assert {"title": "symbol", "value": "ETH-USDT-PERP", "short": True} in slack["attachments"][0]["fields"]
    assert str(note["idempotency_key"]) in slack["attachments"][0]["footer"]
    telegram = render(WebhookTarget("t", "https://x", "telegram", "-100"), note)
    assert telegram["chat_id"] == "-100"
    assert telegram["text"].splitlines()[0].startswith("[FIRING] [CRITICAL]")
    assert "exchange: okx" in telegram["text"]
    resolved = render(WebhookTarget("s", "https://x", "slack"), {**note, "status": "resolved"})
    assert resolved["text"].startswith("[RESOLVED]")
    assert resolved["attachments"][0]["color"] == "good"


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    rng = random.Random(1)
    for attempt in range(1, 20):
        ceiling = min(10.0, 0.5 * 2 ** (attempt - 1))
        draws = [backoff_s(attempt, base_s=0.5, cap_s=10.0, rng=rng) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in draws)
        assert max(draws) > ceiling * 0.8  # jitter spreads over the whole range


def test_api_keys_and_scopes() -> None:
    assert parse_keys("a:read, b:write") == {"a": "read", "b": "write"}
    with pytest.raises(ValueError, match="key:read"):
        parse_keys("a:admin")
