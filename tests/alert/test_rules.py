"""Rule validation and metric resolution against whatever contracts are registered."""

import json

import pytest
from pydantic import ValidationError

from schemas.alert import AlertRule, AlertRuleFile, duration_ns
from schemas.topics import TOPICS
from services.alert.core.builtin import BUILTIN_RULES, builtin_rules
from services.alert.core.catalog import registered_catalog
from services.alert.core.rules import RuleError, compile_rule
from services.alert.service import input_topics
from tests.alert.events import CATALOG, rule

FULL = registered_catalog()


def reasons(**fields: object) -> list[str]:
    with pytest.raises(RuleError) as bad:
        compile_rule(rule(**fields), CATALOG)
    return bad.value.reasons


def test_the_issue_example_parses_and_round_trips() -> None:
    text = """{"rules": [{"id": "wide-spread", "name": "OKX ETH spread wide", "metric": "liquidity.metrics.v1.spread_bps",
            "condition": ">", "threshold": "8",
            "scope": {"exchange": "okx", "symbol": "ETH-USDT-PERP"},
            "for": "30s", "keep_firing_for": "1m", "repeat_interval": "15m",
            "severity": "warning", "labels": {}, "enabled": true}]}"""
    [parsed] = AlertRuleFile.model_validate_json(text).rules
    assert parsed.for_ == "30s"
    again = json.loads(parsed.model_dump_json())
    assert again["for"] == "30s"
    assert "for_" not in again
    assert AlertRule.model_validate(again) == parsed
    if "liquidity.metrics.v1" in FULL.topics:
        compiled = compile_rule(parsed, FULL)
        assert compiled.for_ns == 30 * 10**9


@pytest.mark.parametrize(
    ("text", "ns"), [("500ms", 5 * 10**8), ("5s", 5 * 10**9), ("1m", 6 * 10**10), ("1h30m", 5400 * 10**9)]
)
def test_durations(text: str, ns: int) -> None:
    assert duration_ns(text) == ns


@pytest.mark.parametrize("bad", ["5", "1 m", "-1s", "1w", ""])
def test_bad_durations_are_refused_by_the_model(bad: str) -> None:
    with pytest.raises(ValidationError):
        rule(**{"for": bad})


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"metric": "md.candles.v1.nope"}, "'nope' is not a field of md.candles.v1"),
        ({"metric": "md.candles.v1.closed"}, "'closed' is not a numeric field of md.candles.v1"),
        ({"metric": "md.candles.v1.exchange_ts"}, "is not a numeric field"),
        ({"metric": "nowhere.v1.close"}, "unknown topic 'nowhere.v1'"),
        ({"metric": "close"}, "is not `topic.field`"),
        ({"condition": "crosses above", "for": "5s", "keep_firing_for": "1m"}, "`for` must be 0s"),
        ({"condition": "crosses below"}, "keep_firing_for must be more than 0s"),
        ({"tolerance": "0.1"}, "tolerance only applies to the `==` condition"),
        (
            {"metric": "md.status.v1.down", "scope": {"symbol": "BTC-USDT-PERP"}},
            "md.status.v1 has no symbol field",
        ),
        ({"scope": {"pair": "btc-eth"}}, "md.candles.v1 has no pair field"),
        ({"match": {"colour": "red"}}, "match field 'colour' is not a field of md.candles.v1"),
        ({"labels": {"symbol": "x"}}, "reserved"),
        ({"aggregate": "sum", "window": "0s"}, "window of an aggregate must be more than 0s"),
    ],
)
def test_bad_rules_get_a_clear_reason(fields: dict[str, object], expected: str) -> None:
    assert any(expected in reason for reason in reasons(**fields)), reasons(**fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"condition": "=>"},
        {"threshold": "eight"},
        {"aggregate": "sum"},
        {"window": "1m"},
        {"id": "Bad Id"},
        {"severity": "fatal"},
        {"unknown": 1},
        {"snooze_until": "2024-08-09T00:00:00"},
    ],
)
def test_malformed_rules_are_refused_by_the_model(fields: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        rule(**fields)


def test_every_reason_is_reported_at_once() -> None:
    found = reasons(metric="md.candles.v1.nope", condition="crosses above", **{"for": "1s"})
    assert len(found) == 3


@pytest.mark.parametrize("contract", [c for c in TOPICS if c.name in FULL.topics], ids=lambda c: c.name)
def test_every_numeric_field_of_every_registered_contract_is_a_metric(contract) -> None:  # type: ignore[no-untyped-def]
    fields = FULL.topics[contract.name]
    for name in sorted(fields.numeric):
        compiled = compile_rule(rule(metric=f"{contract.name}.{name}", scope={}), FULL)
        assert compiled.field == name
    assert fields.time_field is not None


def test_numeric_fields_of_the_market_data_contracts() -> None:
    candles = FULL.topics["md.candles.v1"]
    assert {"open", "high", "low", "close", "volume", "notional", "trade_count"} <= candles.numeric
    assert not {"exchange_ts", "close_ts", "receive_ts", "closed", "symbol"} & candles.numeric
    assert set(candles.labels) >= {"exchange", "symbol", "interval_s"}
    assert FULL.topics["md.status.v1"].numeric == {"down"}
    assert FULL.topics["md.status.v1"].time_field == "ts"


def test_builtin_rules_are_valid_wherever_their_topic_is_registered() -> None:
    usable, left_out = builtin_rules(FULL)
    assert {r.id for r in usable} | set(left_out) == {r.id for r in BUILTIN_RULES}
    for rule_id, why in left_out.items():
        assert all("unknown topic" in reason or "not a field" in reason for reason in why), (rule_id, why)
    assert "builtin.connector-down" in {r.id for r in usable}


def test_input_topics_expand_prefixes_and_skip_unregistered() -> None:
    registered = ["md.candles.v1", "md.status.v1", "analytics.spikes.v1", "analytics.flow.v1"]
    assert input_topics("arb.opportunities.v1, analytics.*,md.candles.v1,md.candles.v1", registered) == (
        "analytics.spikes.v1",
        "analytics.flow.v1",
        "md.candles.v1",
    )
