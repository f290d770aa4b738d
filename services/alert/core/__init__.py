"""The alert service's pure core: rules, metric catalog and the evaluation state machine."""

from services.alert.core.catalog import MetricCatalog, TopicFields, UnknownMetric, build_catalog
from services.alert.core.engine import AlertEngine, AlertState, EventRejected, fingerprint_of
from services.alert.core.rules import CompiledRule, RuleError, check_rules, compile_rule

__all__ = [
    "AlertEngine",
    "AlertState",
    "CompiledRule",
    "EventRejected",
    "MetricCatalog",
    "RuleError",
    "TopicFields",
    "UnknownMetric",
    "build_catalog",
    "check_rules",
    "compile_rule",
    "fingerprint_of",
]
