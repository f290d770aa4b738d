"""Prometheus metrics of the alert service and its webhook delivery.

Labelled by rule and status, never by series: a rule scoped to any symbol has hundreds of series.
"""

from prometheus_client import Counter, Gauge

NOTIFICATIONS = Counter(
    "perpwatch_alert_notifications_total",
    "Notifications published on alerts.v1 (kind: firing, reminder, resolved, suppressed).",
    ["rule_id", "kind"],
)
FIRING = Gauge("perpwatch_alert_firing", "Alerts firing now, by rule.", ["rule_id"])
RULES = Gauge("perpwatch_alert_rules", "Rules evaluated (enabled or not).")
RULES_REFUSED = Gauge(
    "perpwatch_alert_rules_refused", "Rules left out or rule changes not applied, with a log line each."
)
RULE_CHANGES = Counter("perpwatch_alert_rule_changes_total", "Changes read from alert.rules.v1.", ["outcome"])
WEBHOOK_ATTEMPTS = Counter(
    "perpwatch_alert_webhook_attempts_total",
    "Webhook requests (outcome: delivered, retry, given_up).",
    ["webhook", "outcome"],
)
OUTBOX_AGE = Gauge(
    "perpwatch_alert_outbox_oldest_seconds", "Age of the oldest undelivered row claimed in the last pass."
)
