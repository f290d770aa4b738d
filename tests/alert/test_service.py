"""The alert processor's shell without Kafka: records in, events and rows out."""

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.structs import ConsumerRecord
from psycopg.types.json import Jsonb

from schemas.alert import AlertNotification, AlertRuleChange, AlertStatus
from services.alert.service import (
    ALERT_HISTORY,
    ALERT_OUTBOX,
    AlertSettings,
    build_offline_processor,
    build_processor,
)
from services.runtime.offline import analyze
from services.runtime.service import Output
from tests.alert.events import at, candle, rule, status


def notes_of(out: Output) -> list[AlertNotification]:
    return [note for _, note in out.events if isinstance(note, AlertNotification)]


def record(topic: str, offset: int, event: Any) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(topic, 0, offset, 0, 0, None, event.model_dump_json().encode(), None, 0, 0, [])


def processor(**settings: Any) -> Any:
    return build_processor(AlertSettings(builtin_rules=False, **settings))


def test_notifications_become_events_history_and_outbox_rows(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(orjson.dumps({"rules": [orjson.loads(rule().model_dump_json())]}).decode())
    proc = processor(
        rules_file=str(rules), webhooks="ops=http://127.0.0.1:9/hook,chat=http://127.0.0.1:9/slack|slack"
    )
    assert proc.inputs[-2:] == ("md.candles.v1", "md.status.v1")
    out = Output()
    proc.handle(record("md.candles.v1", 7, candle(0, 150)), candle(0, 150), out)
    [(topic, note)] = out.events
    assert topic == "alerts.v1"
    assert isinstance(note, AlertNotification)
    [history] = out.rows[ALERT_HISTORY]
    assert len(history) == len(ALERT_HISTORY.columns)
    row = dict(zip(ALERT_HISTORY.columns, history, strict=True))
    assert row["idempotency_key"] == note.idempotency_key
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == ("md.candles.v1", 0, 7)
    assert row["starts_at_ns"] == at(0)
    outbox = out.rows[ALERT_OUTBOX]
    assert [r[1] for r in outbox] == ["ops", "chat"]
    assert isinstance(outbox[0][2], Jsonb)
    assert outbox[0][2].obj["idempotency_key"] == note.idempotency_key


def test_suppressed_notifications_are_recorded_but_not_queued_for_webhooks(tmp_path: Path) -> None:
    rules = tmp_path / "rules.json"
    rules.write_text(orjson.dumps({"rules": [orjson.loads(rule().model_dump_json())]}).decode())
    proc = processor(rules_file=str(rules), webhooks="ops=http://127.0.0.1:9/hook")
    out = Output()
    proc.handle(record("md.status.v1", 0, status(0, "disconnected")), status(0, "disconnected"), out)
    proc.handle(record("md.candles.v1", 0, candle(1, 150)), candle(1, 150), out)
    [note] = notes_of(out)
    assert note.suppressed
    assert len(out.rows[ALERT_HISTORY]) == 1
    assert ALERT_OUTBOX not in out.rows


def test_rule_changes_apply_before_the_next_record() -> None:
    proc = processor()
    out = Output()
    proc.handle(record("md.candles.v1", 0, candle(0, 150)), candle(0, 150), out)
    assert out.events == []
    change = AlertRuleChange(rule_id="high-close", rule=rule(), version=1, changed_at=datetime.now(UTC))
    proc.queue_rule_change(change)
    proc.handle(record("md.candles.v1", 1, candle(1, 150)), candle(1, 150), out)
    assert [n.status for n in notes_of(out)] == [AlertStatus.FIRING]
    proc.queue_rule_change(
        AlertRuleChange(rule_id="high-close", rule=None, version=2, changed_at=datetime.now(UTC))
    )
    proc.handle(record("md.candles.v1", 2, candle(2, 150)), candle(2, 150), out)
    assert [(n.status, n.reason) for n in notes_of(out)][1:] == [(AlertStatus.RESOLVED, "rule deleted")]


def test_a_rule_for_a_topic_not_consumed_is_reported_not_applied() -> None:
    proc = processor(inputs="md.candles.v1")
    bad = rule(id="status", metric="md.status.v1.down", threshold="0")
    proc.queue_rule_change(
        AlertRuleChange(rule_id="status", rule=bad, version=1, changed_at=datetime.now(UTC))
    )
    proc.handle(record("md.candles.v1", 0, candle(0, 1)), candle(0, 1), Output())
    assert "unknown topic 'md.status.v1'" in proc.rejected_rules["status"][0]


def rules_file(tmp_path: Path, *rules: Any) -> str:
    path = tmp_path / "rules.json"
    path.write_text(orjson.dumps({"rules": [orjson.loads(r.model_dump_json()) for r in rules]}).decode())
    return str(path)


def test_offline_analysis_prints_notifications_and_a_summary(tmp_path: Path) -> None:
    lines = [
        orjson.dumps({"topic": "md.candles.v1", "key": bar.key, "event": orjson.loads(bar.model_dump_json())})
        for bar in (candle(t, c) for t, c in [(0, 99), (1, 150), (2, 50)])
    ]
    lines.append(b'{"topic": "md.trades.v1", "key": "k", "event": {"bad": 1}}')
    lines.append(b"not json")
    proc = build_offline_processor(
        AlertSettings(rules_file=rules_file(tmp_path, rule()), builtin_rules=False)
    )
    out = io.BytesIO()
    summary = analyze(proc, lines, out)
    printed = [orjson.loads(line)["event"] for line in out.getvalue().splitlines()]
    assert [n["status"] for n in printed] == ["firing", "resolved"]
    assert summary.inputs == {"md.candles.v1": 3, "md.trades.v1": 1}
    assert summary.outputs == {"alerts.v1": 2}
    assert summary.stats["firing"] == 1
    assert summary.stats["resolved"] == 1
    assert summary.stats["still_firing"] == 0
    assert summary.rejected == {"not_an_envelope": 1, "validation_error": 1}


def test_offline_processor_reads_any_registered_topic_and_refuses_bad_rules(tmp_path: Path) -> None:
    from services.alert.service import build_offline_processor

    trade_rule = rule(metric="md.trades.v1.notional", threshold="1000")
    proc = build_offline_processor(
        AlertSettings(rules_file=rules_file(tmp_path, trade_rule), builtin_rules=False)
    )
    assert "md.trades.v1" in proc.inputs
    assert "alerts.v1" not in proc.inputs
    assert proc.summary()["rules"] == 1
    bad = AlertSettings(
        rules_file=rules_file(tmp_path, rule(metric="md.trades.v1.nope")), builtin_rules=False
    )
    with pytest.raises(ValueError, match=r"'nope' is not a field of md\.trades\.v1"):
        build_offline_processor(bad)
    with pytest.raises(ValueError, match="--rules"):
        build_offline_processor(AlertSettings(builtin_rules=False))
