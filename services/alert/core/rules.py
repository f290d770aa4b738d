"""Rule validation: a public ``AlertRule`` becomes a ``CompiledRule`` or a list of clear reasons.

The REST API answers 422 with these reasons, the rules file loader prints them, and the service
dead-letters a rule change that fails them, so a bad rule is never evaluated.
"""

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from schemas.alert import Aggregate, AlertRule, Condition, duration_ns
from services.alert.core.catalog import MetricCatalog, TopicFields, UnknownMetric

CROSSING = frozenset({Condition.CROSSES_ABOVE, Condition.CROSSES_BELOW})
RESERVED_LABELS = frozenset({"rule_id"})


class RuleError(ValueError):
    """A rule that cannot be evaluated; ``reasons`` lists every problem found."""

    def __init__(self, rule_id: str, reasons: list[str]) -> None:
        super().__init__(f"rule {rule_id!r}: " + "; ".join(reasons))
        self.rule_id = rule_id
        self.reasons = reasons


@dataclass(frozen=True, eq=False)
class CompiledRule:
    """A validated rule with its durations in ns and its metric resolved to a topic field."""

    rule: AlertRule
    topic: TopicFields
    field: str
    for_ns: int
    keep_firing_ns: int
    repeat_ns: int
    window_ns: int
    snooze_until_ns: int | None
    # Everything that decides which series exist and when they fire: a change of any of these
    # ends the rule's open alerts; a change of anything else (name, severity, repeat interval,
    # snooze) applies to them in place.
    semantics: tuple[object, ...]
    # Copies for the hot path (one attribute read instead of two per evaluation).
    id: str = ""
    condition: Condition = Condition.GT
    threshold: Decimal = Decimal(0)
    compare: Callable[[Any, Any], bool] | None = None  # for >, <, >=, <=; None for == and crossings
    read: Callable[[Any], Any] | None = None  # the metric's value from an event (None: missing)
    filtered: bool = False  # has a scope or match: events must be checked against it
    plain_field: str | None = None  # a top-level, non-derived field: read with getattr (fast path)


def _datetime_ns(moment: datetime) -> int:
    # Integer arithmetic: a float timestamp would lose the microseconds of far dates.
    seconds = int(moment.timestamp())
    return seconds * 1_000_000_000 + moment.microsecond * 1_000


def compile_rule(rule: AlertRule, catalog: MetricCatalog) -> CompiledRule:
    """Validate ``rule`` against the registered contracts; raises ``RuleError`` with reasons."""
    reasons: list[str] = []
    topic: TopicFields | None = None
    field = ""
    try:
        topic, field = catalog.resolve(rule.metric)
    except UnknownMetric as exc:
        reasons.append(str(exc))
    for_ns = duration_ns(rule.for_)
    keep_ns = duration_ns(rule.keep_firing_for)
    repeat_ns = duration_ns(rule.repeat_interval)
    window_ns = duration_ns(rule.window) if rule.window is not None else 0
    if rule.condition in CROSSING:
        if for_ns:
            reasons.append(
                f"condition {rule.condition.value!r} is an instant: `for` must be 0s "
                "(use keep_firing_for to say how long its alert stays firing)"
            )
        if not keep_ns:
            reasons.append(
                f"condition {rule.condition.value!r} is an instant: keep_firing_for must be more "
                "than 0s, or its alert would resolve as it fires"
            )
    if rule.tolerance and rule.condition is not Condition.EQ:
        reasons.append("tolerance only applies to the `==` condition")
    if rule.aggregate is not Aggregate.LAST and window_ns <= 0:
        reasons.append("the window of an aggregate must be more than 0s")
    if topic is not None:
        reasons.extend(_scope_problems(rule, topic))
        for name in sorted(rule.match):
            if name not in topic.fields:
                reasons.append(f"match field {name!r} is not a field of {topic.topic}")
    clashes = sorted(set(rule.labels) & (RESERVED_LABELS | set(topic.labels if topic else ())))
    if clashes:
        reasons.append(f"labels {clashes} are reserved: they identify the alert's series")
    if reasons or topic is None:
        raise RuleError(rule.id, reasons)
    semantics: tuple[object, ...] = (
        rule.metric,
        rule.condition,
        rule.threshold,
        rule.tolerance,
        rule.scope,
        tuple(sorted(rule.match.items())),
        rule.aggregate,
        window_ns,
        for_ns,
        keep_ns,
        tuple(sorted(rule.labels.items())),
    )
    derived = topic.derived.get(field)
    return CompiledRule(
        id=rule.id,
        condition=rule.condition,
        threshold=rule.threshold,
        compare=_COMPARE.get(rule.condition),
        read=derived if derived is not None else _reader(field),
        plain_field=field if derived is None and "." not in field else None,
        filtered=bool(rule.match) or any(v is not None for v in rule.scope.model_dump().values()),
        rule=rule,
        topic=topic,
        field=field,
        for_ns=for_ns,
        keep_firing_ns=keep_ns,
        repeat_ns=repeat_ns,
        window_ns=window_ns,
        snooze_until_ns=_datetime_ns(rule.snooze_until) if rule.snooze_until is not None else None,
        semantics=semantics,
    )


_COMPARE: dict[Condition, Callable[[Any, Any], bool]] = {
    Condition.GT: operator.gt,
    Condition.LT: operator.lt,
    Condition.GE: operator.ge,
    Condition.LE: operator.le,
}


def _reader(field: str) -> Callable[[Any], Any]:
    """``event -> value`` of a field (``parent.child`` too); None when the event lacks it."""
    get = operator.attrgetter(field)

    def read(event: Any) -> Any:
        try:
            return get(event)
        except AttributeError:  # a union branch without the field, or a null parent
            return None

    return read


def _scope_problems(rule: AlertRule, topic: TopicFields) -> list[str]:
    problems = []
    labels = set(topic.labels)
    venue_labels = {n for n in labels if n == "exchange" or n.endswith("_exchange")}
    if rule.scope.exchange is not None and not venue_labels:
        problems.append(f"scope.exchange cannot match: {topic.topic} has no exchange field")
    if rule.scope.symbol is not None and "symbol" not in labels:
        problems.append(f"scope.symbol cannot match: {topic.topic} has no symbol field")
    if rule.scope.pair is not None and "pair" not in labels:
        problems.append(f"scope.pair cannot match: {topic.topic} has no pair field")
    return problems


def check_rules(rules: Mapping[str, AlertRule], catalog: MetricCatalog) -> dict[str, list[str]]:
    """The reasons of every invalid rule, by id (empty: all valid)."""
    problems: dict[str, list[str]] = {}
    for rule_id, rule in rules.items():
        try:
            compile_rule(rule, catalog)
        except RuleError as exc:
            problems[rule_id] = exc.reasons
    return problems
