"""Prometheus metrics of the arbitrage service (refreshed once per batch from the core's counters)."""

from prometheus_client import Counter, Gauge

EVALUATIONS = Counter(
    "perpwatch_arb_evaluations_total",
    "Ordered-pair evaluations (rate() gives evaluations/s), by kind: spread on book changes, funding on funding changes.",
    ["kind"],
)
OPEN_OPPORTUNITIES = Gauge("perpwatch_arb_open_opportunities", "Opportunities open now.", ["kind"])
OPPORTUNITY_EVENTS = Counter(
    "perpwatch_arb_opportunity_events_total", "Events published on arb.opportunities.v1.", ["event"]
)
GUARD_REJECTIONS = Counter(
    "perpwatch_arb_guard_rejections_total",
    "Evaluations that would have opened (or kept open) an opportunity but a guard forbade it.",
    ["guard"],
)
SPREAD_SAMPLES = Counter("perpwatch_arb_spread_samples_total", "Events published on arb.spreads.v1.")
