"""Which metrics a rule may name: the numeric fields of the registered topic contracts.

A metric is ``topic.field``. The catalog is built from the contracts' JSON Schemas, so a topic
registered tomorrow (``arb.*``, ``liquidity.*``, ``analytics.*``) is usable by rules without a
change here. Timestamps (``ts``, ``*_ts``) are not metrics; booleans are not numeric.

Each topic also says which of its fields identify an alert's series (``exchange``, ``symbol``,
``pair``, ``side``, timeframes, ``*_exchange`` legs ...) and which field carries event time.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from schemas.common import DECIMAL_PATTERN

# Fields that tell one series from another when they are strings, enums or integers (also as
# the leaf of a nested `parent.child`). A field outside this list (a trade id, a free-text
# detail) would make a new series per event.
LABEL_FIELDS = frozenset(
    {
        "exchange",
        "symbol",
        "pair",
        "side",
        "metric",
        "connection_id",
        "interval_s",
        "timeframe_s",
        "window_s",
    }
)
# Event time, in order of preference; every contract carries one of these, in ns.
TIME_FIELDS = ("exchange_ts", "ts", "event_ts")

DerivedField = Callable[[Any], Decimal | None]


def _status_down(event: Any) -> Decimal | None:
    state = getattr(event, "state", None)
    value = getattr(state, "value", state)
    return Decimal(1) if value in ("disconnected", "stale") else Decimal(0)


def _open_opportunity_bps(event: Any) -> Decimal | None:
    kind = getattr(event, "event", None)
    if getattr(kind, "value", kind) == "closed":
        return Decimal(0)
    value = getattr(event, "value_bps", None)
    return value if isinstance(value, Decimal) else None


def _crunch_active(event: Any) -> Decimal | None:
    phase = getattr(event, "phase", None)
    value = getattr(phase, "value", phase)
    if value is None:
        return None
    return Decimal(1) if value == "started" else Decimal(0)


# Numeric views of non-numeric facts: a connector's state, whether an opportunity is still open.
# Documented with the rules format (services/alert/README.md).
DERIVED_FIELDS: Mapping[str, Mapping[str, DerivedField]] = {
    "md.status.v1": {"down": _status_down},
    # value_bps while an opportunity is open (opened, updated), 0 once it closed.
    "arb.opportunities.v1": {"open_value_bps": _open_opportunity_bps},
    # 1 from a crunch's started event, 0 from its ended event.
    "liquidity.anomalies.v1": {"active": _crunch_active},
}


@dataclass(frozen=True)
class TopicFields:
    """What the alert core needs to know about one topic's payload."""

    topic: str
    numeric: frozenset[str]
    labels: tuple[str, ...]
    fields: frozenset[str]
    time_field: str | None
    derived: Mapping[str, DerivedField] = field(default_factory=dict)


class UnknownMetric(ValueError):
    """A metric that does not name a numeric field of a known topic; the message says why."""


@dataclass(frozen=True)
class MetricCatalog:
    topics: Mapping[str, TopicFields]

    def resolve(self, metric: str) -> tuple[TopicFields, str]:
        """``"md.candles.v1.close"`` -> (the topic's fields, ``"close"``); nested: ``buy.best_ask``."""
        prefixes = [name for name in self.topics if metric.startswith(name + ".")]
        if not prefixes:
            topic_name = metric.rpartition(".")[0] or metric
            known = ", ".join(sorted(self.topics)) or "none"
            raise UnknownMetric(
                f"metric {metric!r} is not `topic.field` of a topic the alert service reads "
                f"(unknown topic {topic_name!r}; known: {known})"
            )
        topic_name = max(prefixes, key=len)
        field_name = metric[len(topic_name) + 1 :]
        fields = self.topics[topic_name]
        if field_name not in fields.numeric:
            numeric = ", ".join(sorted(fields.numeric)) or "none"
            what = "is not a numeric field of" if field_name in fields.fields else "is not a field of"
            raise UnknownMetric(f"metric {metric!r}: {field_name!r} {what} {topic_name} (numeric: {numeric})")
        return fields, field_name

    def restricted_to(self, topics: Iterable[str]) -> "MetricCatalog":
        wanted = set(topics)
        return MetricCatalog({name: f for name, f in self.topics.items() if name in wanted})


def _properties(schema: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every property of a model schema, or of each branch of a union of models."""
    definitions: Mapping[str, Any] = schema.get("$defs", {})

    def deref(node: Mapping[str, Any]) -> Mapping[str, Any]:
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target: Mapping[str, Any] = definitions[ref.removeprefix("#/$defs/")]
            return target
        return node

    root = deref(schema)
    branches = root.get("oneOf") or root.get("anyOf") or [root]
    properties: dict[str, Mapping[str, Any]] = {}
    for branch in branches:
        for name, prop in deref(branch).get("properties", {}).items():
            resolved = _resolved_property(prop, deref)
            properties.setdefault(name, resolved)
            # One level of nesting, as `parent.child`: the legs of a pair (buy.exchange, leg_a.symbol).
            for child, child_prop in resolved.get("properties", {}).items():
                properties.setdefault(f"{name}.{child}", _resolved_property(child_prop, deref))
    return properties


def _resolved_property(
    prop: Mapping[str, Any], deref: Callable[[Mapping[str, Any]], Mapping[str, Any]]
) -> Mapping[str, Any]:
    """A property with its ``$ref`` followed and an optional (``X | None``) unwrapped."""
    prop = deref(prop)
    options = prop.get("anyOf")
    if isinstance(options, list):
        non_null = [deref(o) for o in options if o.get("type") != "null"]
        if len(non_null) == 1:
            return non_null[0]
    return prop


def _is_numeric(prop: Mapping[str, Any]) -> bool:
    kind = prop.get("type")
    if kind in ("integer", "number"):
        return True
    return kind == "string" and prop.get("pattern") == DECIMAL_PATTERN


def is_venue_label(name: str) -> bool:
    """Labels naming a venue: scope.exchange matches them and a down connector inhibits them."""
    return name == "exchange" or name.endswith(("_exchange", ".exchange"))


def _is_label(name: str, prop: Mapping[str, Any]) -> bool:
    leaf = name.rpartition(".")[2]
    if leaf not in LABEL_FIELDS and not is_venue_label(name):
        return False
    kind = prop.get("type")
    return kind == "integer" or (kind == "string" and prop.get("pattern") != DECIMAL_PATTERN)


def _is_time(name: str) -> bool:
    leaf = name.rpartition(".")[2]
    return leaf == "ts" or leaf.endswith("_ts")


def topic_fields(topic: str, json_schema: Mapping[str, Any]) -> TopicFields:
    properties = _properties(json_schema)
    derived = DERIVED_FIELDS.get(topic, {})
    numeric = {n for n, p in properties.items() if _is_numeric(p) and not _is_time(n)} | set(derived)
    labels = tuple(sorted(n for n, p in properties.items() if _is_label(n, p)))
    time_field = next((t for t in TIME_FIELDS if t in properties), None)
    return TopicFields(
        topic=topic,
        numeric=frozenset(numeric),
        labels=labels,
        fields=frozenset(properties) | frozenset(derived),
        time_field=time_field,
        derived=derived,
    )


def build_catalog(schemas: Mapping[str, Mapping[str, Any]]) -> MetricCatalog:
    """From ``{topic: JSON Schema of its payload}``; topics without event time are left out."""
    topics = {name: topic_fields(name, schema) for name, schema in schemas.items()}
    return MetricCatalog({name: f for name, f in topics.items() if f.time_field is not None})


def registered_catalog(topics: Iterable[str] | None = None) -> MetricCatalog:
    """The catalog of the contracts registered in ``schemas/topics.py`` (optionally only ``topics``).

    The alert topics themselves are left out: an alert on alerts would feed on itself.
    """
    from schemas.topics import TOPICS

    wanted = None if topics is None else set(topics)
    return build_catalog(
        {
            contract.name: contract.payload.json_schema()
            for contract in TOPICS
            if (wanted is None or contract.name in wanted) and not contract.name.startswith("alert")
        }
    )
