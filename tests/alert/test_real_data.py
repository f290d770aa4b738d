"""Rules on the real Binance USD-M capture (2024-08-08), checked against brute force."""

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from schemas.alert import AlertRule, AlertStatus
from schemas.topics import TOPICS_BY_NAME
from services.alert.core.engine import AlertEngine
from services.alert.service import AlertSettings, build_engine, build_offline_processor
from services.runtime.offline import analyze
from tests.alert.realdata import binance_events

S = 1_000_000_000


@pytest.fixture(scope="module")
def trades(shared_data: Path) -> list[tuple[str, Any]]:
    events = [
        (t, e) for t, e in binance_events(shared_data, frames=40_000) if t in ("md.trades.v1", "md.bbo.v1")
    ]
    assert sum(1 for t, _ in events if t == "md.trades.v1") > 5_000
    return events


def engine_for(rules: list[AlertRule]) -> AlertEngine:
    engine, left_out = build_engine(tuple(TOPICS_BY_NAME), builtins=False, rules=rules)
    assert left_out == {}
    return engine


def flow_rule(threshold: str) -> AlertRule:
    return AlertRule.model_validate(
        {
            "id": "btc-flow",
            "name": "BTC taker notional over 10s",
            "metric": "md.trades.v1.notional",
            "condition": ">",
            "threshold": threshold,
            "aggregate": "sum",
            "window": "10s",
            "keep_firing_for": "5s",
            "repeat_interval": "30s",
            "scope": {"exchange": "binance_usdm", "symbol": "BTC-USDT-PERP"},
        }
    )


def test_windowed_trade_notional_fires_exactly_where_brute_force_says(trades: list[tuple[str, Any]]) -> None:
    engine = engine_for([flow_rule("2000000")])
    notes = [n for topic, event in trades for n in engine.on_event(topic, event)]
    firing = [n for n in notes if n.status is AlertStatus.FIRING and n.reminder == 0]
    assert firing, "a calm hour still has 2M USDT of taker flow in some 10 s windows, per side"
    by_side: dict[str, list[tuple[int, Decimal]]] = {}
    for topic, event in trades:
        if topic == "md.trades.v1":
            by_side.setdefault(event.side.value, []).append((event.exchange_ts, event.notional))
    for note in firing:
        side = note.labels["side"]
        t = note.event_ts
        before = sum((v for ts, v in by_side[side] if t - 10 * S < ts < t), Decimal(0))
        # Trades sharing the firing trade's timestamp count up to the one that fired it.
        at_t = [v for ts, v in by_side[side] if ts == t]
        prefixes = {before + sum(at_t[:k], Decimal(0)) for k in range(1, len(at_t) + 1)}
        assert note.value in prefixes
        assert note.value is not None
        assert note.value > Decimal(2_000_000)
    assert len({n.idempotency_key for n in notes}) == len(notes)
    resolved = [n for n in notes if n.status is AlertStatus.RESOLVED]
    assert len(resolved) >= len(firing) - 2  # at most one still firing per side at the end


def test_offline_run_is_deterministic(trades: list[tuple[str, Any]], tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"topic": t, "key": e.key, "event": orjson.loads(e.model_dump_json())})
        for t, e in trades[:8000]
    ]
    rules = tmp_path / "rules.json"
    rules.write_text(orjson.dumps({"rules": [orjson.loads(flow_rule("500000").model_dump_json())]}).decode())
    settings = AlertSettings(rules_file=str(rules), builtin_rules=False)

    def run() -> tuple[bytes, Any]:
        out = io.BytesIO()
        summary = analyze(build_offline_processor(settings), lines, out)
        return out.getvalue(), summary

    first, summary = run()
    assert first == run()[0]
    assert summary.stats["events"] == 8000
    assert summary.rejected == {}
    assert summary.outputs["alerts.v1"] == len(first.splitlines()) > 0
