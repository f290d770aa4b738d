"""Alert rules and alert notifications (``alert.rules.v1``, ``alerts.v1``).

The rule object is public: the rules file of ``perpwatch analyze alerts``, the REST API and the
compacted ``alert.rules.v1`` topic all carry the same JSON. Durations are strings such as
``"500ms"``, ``"5s"``, ``"1m"``, ``"2h"`` or ``"1h30m"``.

Semantics follow Prometheus/Alertmanager, with exchange time from the events as the only clock:
a condition that holds for ``for`` makes the alert fire; it keeps firing for ``keep_firing_for``
after the condition clears; reminders come no more often than ``repeat_interval``; a resolved
notification is sent when it ends. Notifications are deduplicated by a fingerprint of the rule
id and the alert's labels.
"""

import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, ConfigDict, Field, model_validator

from schemas.common import Contract, DecimalString, TimestampNs

DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d))+$"
RULE_ID_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
LABEL_NAME_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        description="A duration: digits and a unit (ms, s, m, h, d), repeatable, e.g. 30s or 1h30m.",
        examples=["30s", "1m", "2h"],
    ),
]


class Condition(StrEnum):
    GT = ">"
    LT = "<"
    GE = ">="
    LE = "<="
    EQ = "=="
    CROSSES_ABOVE = "crosses above"
    CROSSES_BELOW = "crosses below"


class Aggregate(StrEnum):
    """How a series' samples become the value compared with the threshold."""

    LAST = "last"
    SUM = "sum"
    COUNT = "count"
    AVG = "avg"
    MAX = "max"
    MIN = "min"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class AlertScope(Contract):
    """Which events a rule watches; an absent field matches anything.

    ``exchange`` matches the event's ``exchange`` or any of its ``*_exchange`` fields (both legs
    of an arbitrage); ``pair`` matches the event's ``pair`` field.
    """

    exchange: str | None = None
    symbol: str | None = None
    pair: str | None = None


class AlertRule(Contract):
    """One user rule, as stored, published and accepted by the REST API."""

    id: Annotated[str, Field(pattern=RULE_ID_PATTERN, description="Stable id, e.g. wide-spread.")]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    metric: Annotated[
        str,
        Field(
            min_length=3,
            description="A numeric field of a topic, `topic.field`, e.g. liquidity.metrics.v1.spread_bps.",
        ),
    ]
    condition: Condition
    threshold: DecimalString
    tolerance: DecimalString = Field(
        default=Decimal("0"),
        ge=0,
        description="For `==`: |value - threshold| <= tolerance counts as equal.",
    )
    scope: AlertScope = Field(default_factory=AlertScope)
    match: dict[str, str] = Field(
        default_factory=dict,
        description='Equality filters on non-numeric fields of the event, e.g. {"kind": "started"}.',
    )
    aggregate: Aggregate = Field(
        default=Aggregate.LAST,
        description="last: the latest sample; sum/count/avg/max/min: over `window` of exchange time.",
    )
    window: Duration | None = Field(default=None, description="Window of a non-`last` aggregate.")
    for_: Duration = Field(default="0s", alias="for", description="How long the condition must hold.")
    keep_firing_for: Duration = Field(default="0s", description="How long to keep firing once it clears.")
    repeat_interval: Duration = Field(default="4h", description="Least time between reminders; 0s: none.")
    severity: Severity = Severity.WARNING
    labels: dict[Annotated[str, Field(pattern=LABEL_NAME_PATTERN)], Annotated[str, Field(max_length=200)]] = (
        Field(default_factory=dict)
    )
    enabled: bool = True
    snooze_until: AwareDatetime | None = Field(
        default=None, description="No notification is delivered before this time (ISO 8601 with zone)."
    )

    # "for" is a Python keyword: the attribute is for_, the JSON name is "for" (either is accepted).
    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    @model_validator(mode="after")
    def _aggregate_needs_window(self) -> "AlertRule":
        if self.aggregate is not Aggregate.LAST and self.window is None:
            raise ValueError(f'aggregate {self.aggregate.value!r} needs a window, e.g. "1m"')
        if self.aggregate is Aggregate.LAST and self.window is not None:
            raise ValueError("a window needs an aggregate other than 'last' (sum, count, avg, max, min)")
        return self


class AlertRuleFile(Contract):
    """The rules file format (``--rules RULES.json``) and the REST list body."""

    rules: list[AlertRule]


class AlertRuleChange(Contract):
    """One change of the rule set on the compacted ``alert.rules.v1`` topic, keyed by rule id.

    ``rule`` is null when the rule was deleted; compaction keeps the latest change per id, so
    reading the topic to its end gives the current rule set.
    """

    rule_id: Annotated[str, Field(pattern=RULE_ID_PATTERN)]
    rule: AlertRule | None = Field(description="The rule as stored; null: deleted.")
    version: Annotated[int, Field(ge=1, description="Increases with every change of this rule.")]
    changed_at: datetime = Field(description="When the change was stored (wall clock of the API).")

    @property
    def key(self) -> str:
        return self.rule_id

    @model_validator(mode="after")
    def _same_id(self) -> "AlertRuleChange":
        if self.rule is not None and self.rule.id != self.rule_id:
            raise ValueError("rule.id must equal rule_id")
        return self


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class AlertNotification(Contract):
    """One notification (``alerts.v1``), keyed by fingerprint.

    ``idempotency_key`` is unique per notification and stable across replays: webhook receivers
    deduplicate by it. A ``suppressed`` notification (inhibited by a connector that is down, or
    a snoozed rule) is published so the record says what happened, but is not delivered.
    """

    idempotency_key: Annotated[str, Field(min_length=1)]
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
    status: AlertStatus
    rule_id: str
    rule_name: str
    severity: Severity
    labels: dict[str, str] = Field(description="rule_id, the event's identity labels and the rule's labels.")
    metric: str
    condition: Condition
    threshold: DecimalString
    value: DecimalString | None = Field(description="The value that made it fire, or the latest one.")
    starts_at: TimestampNs = Field(description="When the alert started firing (exchange time).")
    ends_at: TimestampNs | None = Field(default=None, description="When it resolved; null while firing.")
    event_ts: TimestampNs = Field(description="Exchange time of this notification.")
    reminder: Annotated[int, Field(ge=0, description="0: the first firing notification; n: n-th reminder.")]
    summary: str = Field(description="One human-readable line.")
    reason: str = Field(default="", description="Why it resolved: condition cleared, rule changed, ...")
    suppressed: str = Field(
        default="", description="Why it is not delivered (inhibited, snoozed); empty: delivered."
    )

    @property
    def key(self) -> str:
        return self.fingerprint


def duration_ns(text: str) -> int:
    """``"1h30m"`` -> nanoseconds (the pattern is enforced by the models)."""
    units = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    units["d"] = 24 * units["h"]
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 1m or 2h")
    return sum(int(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d)", text))
