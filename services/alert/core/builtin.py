"""Built-in rules, shipped with the service; a stored rule with the same id replaces one.

Defaults (documented in services/alert/README.md): the connector rule and the liquidity-crunch
rule are enabled, because they need no threshold of the user's; the others are shipped disabled
with a conservative threshold, to be enabled (and tuned) through the REST API or a rules file.
A built-in whose topic is not registered or not consumed is left out, with its reason.
"""

from decimal import Decimal

from schemas.alert import Aggregate, AlertRule, Condition, Severity
from services.alert.core.catalog import MetricCatalog
from services.alert.core.rules import RuleError, compile_rule

BUILTIN_RULES: tuple[AlertRule, ...] = (
    AlertRule(
        id="builtin.connector-down",
        name="Connector down or stale",
        metric="md.status.v1.down",
        condition=Condition.GE,
        threshold=Decimal(1),
        for_="1m",
        repeat_interval="1h",
        severity=Severity.CRITICAL,
        enabled=True,
    ),
    AlertRule(
        id="builtin.liquidity-crunch",
        name="Liquidity crunch started",
        metric="liquidity.anomalies.v1.active",
        condition=Condition.GE,
        threshold=Decimal(1),
        repeat_interval="30m",
        severity=Severity.CRITICAL,
        enabled=True,
    ),
    AlertRule(
        id="builtin.arbitrage-open",
        name="Arbitrage opened over 20 bps net",
        metric="arb.opportunities.v1.open_value_bps",
        condition=Condition.GT,
        threshold=Decimal(20),
        match={"kind": "spread"},
        repeat_interval="15m",
        severity=Severity.INFO,
        enabled=False,
    ),
    AlertRule(
        id="builtin.spike",
        name="Volume or open-interest spike",
        metric="analytics.spikes.v1.z",
        condition=Condition.GE,
        threshold=Decimal(3),
        keep_firing_for="5m",
        repeat_interval="1h",
        severity=Severity.WARNING,
        enabled=False,
    ),
    AlertRule(
        id="builtin.liquidations-1m",
        name="Liquidations over $1M in 1m",
        metric="analytics.flow.v1.notional_usd",
        condition=Condition.GT,
        threshold=Decimal(1_000_000),
        match={"type": "window", "kind": "liquidation", "window_s": "60"},
        keep_firing_for="1m",
        repeat_interval="15m",
        severity=Severity.WARNING,
        enabled=False,
    ),
    AlertRule(
        id="builtin.large-trade",
        name="Large trade over $1M",
        metric="analytics.flow.v1.notional_usd",
        condition=Condition.GE,
        threshold=Decimal(1_000_000),
        match={"type": "large_trade"},
        keep_firing_for="1m",
        repeat_interval="15m",
        severity=Severity.INFO,
        enabled=False,
    ),
    AlertRule(
        id="builtin.liquidations-1m-raw",
        name="Liquidations over $1M in 1m (from md.liquidations.v1)",
        metric="md.liquidations.v1.notional",
        condition=Condition.GT,
        threshold=Decimal(1_000_000),
        aggregate=Aggregate.SUM,
        window="1m",
        repeat_interval="15m",
        severity=Severity.WARNING,
        enabled=False,
    ),
)


def builtin_rules(catalog: MetricCatalog) -> tuple[list[AlertRule], dict[str, list[str]]]:
    """The built-ins valid against ``catalog``, and the reasons the others are left out."""
    usable: list[AlertRule] = []
    left_out: dict[str, list[str]] = {}
    for rule in BUILTIN_RULES:
        try:
            compile_rule(rule, catalog)
        except RuleError as exc:
            left_out[rule.id] = exc.reasons
            continue
        usable.append(rule)
    return usable, left_out
