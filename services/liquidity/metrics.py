"""Per-book Prometheus metrics of the liquidity service (labels: exchange, symbol).

The gauges follow the latest published sample, so a scrape shows the book as the detector last
saw it; ``perpwatch_liquidity_crunch_active`` is 1 from a crunch's start to its end, and the
counter of crunches by phase feeds alerting on rates.
"""

from dataclasses import dataclass

from prometheus_client import Counter, Gauge

from schemas.liquidity import CrunchPhase, LiquidityAnomaly
from services.liquidity.core.engine import MetricSample
from services.liquidity.core.metrics import DEPTH_BANDS_BPS

_BOOK = ["exchange", "symbol"]

SAMPLES = Counter("perpwatch_liquidity_samples_total", "Liquidity metric samples published.", _BOOK)
CRUNCHES = Counter(
    "perpwatch_liquidity_crunches_total", "Liquidity crunch events published, by phase.", [*_BOOK, "phase"]
)
CRUNCH_ACTIVE = Gauge("perpwatch_liquidity_crunch_active", "1 while a liquidity crunch is ongoing.", _BOOK)
SPREAD_BPS = Gauge("perpwatch_liquidity_spread_bps", "Quoted spread of the latest sample, bps.", _BOOK)
DEPTH_NOTIONAL = Gauge(
    "perpwatch_liquidity_depth_notional",
    "Quote notional within the band of the latest sample, both sides.",
    [*_BOOK, "band_bps"],
)
IMBALANCE = Gauge("perpwatch_liquidity_imbalance", "Top-of-book size imbalance of the latest sample.", _BOOK)
SPREAD_Z = Gauge("perpwatch_liquidity_spread_z", "Robust z-score of the spread, latest sample.", _BOOK)
DEPTH_Z = Gauge("perpwatch_liquidity_depth_z", "Robust z-score of the log depth, latest sample.", _BOOK)


@dataclass
class LiquidityGauges:
    """The labelled children of one book, resolved once."""

    exchange: str
    symbol: str
    samples: Counter
    crunch_active: Gauge
    spread: Gauge
    imbalance: Gauge
    spread_z: Gauge
    depth_z: Gauge
    depth_by_band: dict[int, Gauge]

    @classmethod
    def of(cls, exchange: str, symbol: str) -> "LiquidityGauges":
        return cls(
            exchange,
            symbol,
            SAMPLES.labels(exchange, symbol),
            CRUNCH_ACTIVE.labels(exchange, symbol),
            SPREAD_BPS.labels(exchange, symbol),
            IMBALANCE.labels(exchange, symbol),
            SPREAD_Z.labels(exchange, symbol),
            DEPTH_Z.labels(exchange, symbol),
            {bps: DEPTH_NOTIONAL.labels(exchange, symbol, str(bps)) for bps in DEPTH_BANDS_BPS},
        )

    def observe(self, sample: MetricSample) -> None:
        self.samples.inc()
        metrics, verdict = sample.metrics, sample.verdict
        if metrics.spread_bps is not None:
            self.spread.set(metrics.spread_bps)
        if metrics.imbalance is not None:
            self.imbalance.set(metrics.imbalance)
        if verdict.spread_z is not None:
            self.spread_z.set(verdict.spread_z)
        if verdict.depth_z is not None:
            self.depth_z.set(verdict.depth_z)
        for band in metrics.bands:
            self.depth_by_band[band.bps].set(float(band.notional))

    def crunch(self, event: LiquidityAnomaly) -> None:
        CRUNCHES.labels(self.exchange, self.symbol, event.phase.value).inc()
        self.crunch_active.set(1 if event.phase is CrunchPhase.STARTED else 0)
