"""The service registry: every long-running perpwatch service, listed once.

``perpwatch run NAME`` looks NAME up here; ``perpwatch up`` starts the ones marked ``local``
in this order; ``docker-compose.yml`` and the Helm chart's ``values.yaml`` list the same names
(``tests/deploy`` fails when they drift). A new service is one ``ServiceSpec`` line.

Two kinds of entry point:

- ``stream``: ``entry`` names a zero-argument factory returning a ``Processor``; the runtime's
  ``StreamService`` runs it (consume, core, sink, publish, commit in one transaction);
- ``process``: ``entry`` names ``run(settings)``, a service with its own loop on the runtime's
  process shell (ingest's WebSockets, matching's per-partition transactions, the HTTP servers).
"""

import importlib
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from services.runtime.settings import Settings

Kind = Literal["stream", "process"]


@dataclass(frozen=True)
class OfflineOption:
    """A ``perpwatch analyze NAME --FLAG VALUE`` option: one of the service's settings for that run.

    Services read their settings from ``PERPWATCH_*`` variables; an option is a named way to set
    one of them, so offline and ``perpwatch run`` share one settings class and one set of defaults.
    """

    flag: str
    env: str
    help: str


@dataclass(frozen=True)
class OfflineSpec:
    entry: str | None = None
    """A factory to use offline instead of ``entry`` (e.g. one that refuses bad rules outright)."""
    options: tuple[OfflineOption, ...] = ()
    defaults: tuple[tuple[str, str], ...] = ()
    """Settings (env, value) offline runs start from; the user's own environment still wins."""
    views: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """Other names for ``perpwatch analyze``, each printing only some output topics."""


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    summary: str
    kind: Kind
    entry: str
    """``module:attribute`` of the processor factory (stream) or ``run(settings)`` (process)."""
    local_metrics_port: int
    """Port of /metrics, /healthz and /readyz under ``perpwatch up`` (one per service, side by side)."""
    local: bool = True
    """Started by ``perpwatch up``."""
    http_port: int | None = None
    """A user-facing HTTP port besides the metrics port (API, gateway)."""
    one_replica: str = ""
    """Why this stream service must run as one replica; empty: it scales with its input partitions."""
    offline: OfflineSpec | None = None
    """How ``perpwatch analyze`` runs it, when it needs more than ``entry`` with defaults."""

    def load(self) -> Any:
        return load_entry(self.entry)


def load_entry(entry: str) -> Any:
    """The object a ``module:attribute`` entry names, imported only when it is needed."""
    module, _, attribute = entry.partition(":")
    return getattr(importlib.import_module(module), attribute)


SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="ingest",
        summary="venue WebSockets -> normalized md.* topics (PERPWATCH_INGEST_FEEDS)",
        kind="process",
        entry="services.ingest.service:run_ingest",
        local_metrics_port=9102,
    ),
    ServiceSpec(
        name="book-builder",
        summary="md.book.v1 -> validated books -> book.bbo.v1, book.l2.v1 + book_bbo, book_depth rows",
        kind="stream",
        entry="services.book_builder.service:BookBuilderProcessor",
        local_metrics_port=9101,
    ),
    ServiceSpec(
        name="market-recorder",
        summary="md.trades, md.funding, md.open_interest, md.liquidations -> their tables",
        kind="stream",
        entry="services.market_recorder.service:MarketRecorder",
        local_metrics_port=9103,
    ),
    ServiceSpec(
        name="arbitrage",
        summary="book.l2.v1, book.bbo.v1, md.funding.v1 -> executable cross-venue spreads and funding differentials",
        kind="stream",
        entry="services.arbitrage.service:build_processor",
        local_metrics_port=9107,
        one_replica="a symbol's venues are on different partitions, and only one process sees them all",
        offline=OfflineSpec(
            options=(
                OfflineOption("notional", "PERPWATCH_ARB_NOTIONALS", "quote notionals, e.g. 10000,100000"),
                OfflineOption("fees", "PERPWATCH_ARB_FEES", "taker fee overrides: a JSON file or string"),
                OfflineOption(
                    "cross-quote", "PERPWATCH_ARB_CROSS_QUOTE", "true: compare USD, USDT, USDC contracts"
                ),
            ),
            defaults=(("PERPWATCH_ARB_RESTORE", "false"),),
        ),
    ),
    ServiceSpec(
        name="liquidity",
        summary="book.l2.v1, md.trades.v1 -> book metrics and liquidity-crunch detection",
        kind="stream",
        entry="services.liquidity.service:build_processor",
        local_metrics_port=9108,
        offline=OfflineSpec(
            options=(
                OfflineOption(
                    "cadence-ms", "PERPWATCH_LIQUIDITY_CADENCE_MS", "sample cadence, ms of exchange time"
                ),
                OfflineOption(
                    "notional", "PERPWATCH_LIQUIDITY_SLIPPAGE_NOTIONAL", "market order walked, quote"
                ),
            ),
        ),
    ),
    ServiceSpec(
        name="analytics",
        summary="md.trades/open_interest/liquidations/funding -> OHLCV, spikes, flow, pair analytics",
        kind="stream",
        entry="services.analytics.service:build_processor",
        local_metrics_port=9109,
        one_replica="a pair's two instruments are on different partitions",
        offline=OfflineSpec(
            options=(
                OfflineOption(
                    "interval", "PERPWATCH_ANALYTICS_BAR_INTERVALS_S", "bar lengths in s, e.g. 1,60"
                ),
                OfflineOption("pairs", "PERPWATCH_ANALYTICS_PAIRS", "pairs, as a JSON list"),
                OfflineOption(
                    "large-trade-usd", "PERPWATCH_ANALYTICS_LARGE_TRADE_USD", "large-trade threshold, USD"
                ),
            ),
            views=(
                ("candles", ("md.candles.v1",)),
                ("spikes", ("analytics.spikes.v1",)),
                ("flow", ("analytics.flow.v1",)),
                ("pairs", ("analytics.pairs.v1",)),
            ),
        ),
    ),
    ServiceSpec(
        name="alert",
        summary="analytics topics -> user rules with for/keep_firing_for/cooldown -> alerts and deliveries",
        kind="stream",
        entry="services.alert.service:build_processor",
        local_metrics_port=9110,
        one_replica="rules aggregate and inhibit across instruments, which are on different partitions",
        offline=OfflineSpec(
            entry="services.alert.service:build_offline_processor",
            options=(OfflineOption("rules", "PERPWATCH_ALERT_RULES_FILE", 'rules file ({"rules": [...]})'),),
            defaults=(("PERPWATCH_ALERT_BUILTIN_RULES", "false"),),
            views=(("alerts", ()),),
        ),
    ),
    ServiceSpec(
        name="alert-delivery",
        summary="alert_outbox -> webhooks, retried with backoff, idempotency key per notification",
        kind="process",
        entry="services.alert.delivery:run",
        local_metrics_port=9112,
    ),
    ServiceSpec(
        name="matching",
        summary="venue.commands.v1 -> matching engine -> venue.events/trades/md.v1 (exactly once)",
        kind="process",
        entry="services.matching.service:run_matching",
        local_metrics_port=9104,
    ),
    ServiceSpec(
        name="venue-recorder",
        summary="venue.events.v1 + venue.trades.v1 -> venue_orders, venue_trades rows",
        kind="stream",
        entry="services.matching.recorder:VenueRecorder",
        local_metrics_port=9105,
    ),
    ServiceSpec(
        name="gateway",
        summary="REST + WebSocket order entry and market data of the matching venue",
        kind="process",
        entry="services.matching.gateway:run_gateway",
        local_metrics_port=9106,
        http_port=8080,
    ),
    ServiceSpec(
        name="api",
        summary="query API (REST + WebSocket, OpenAPI at /docs) and the live dashboard at /",
        kind="process",
        entry="services.api.service:run_api",
        local_metrics_port=9111,
        http_port=8000,
    ),
)

SERVICES_BY_NAME: dict[str, ServiceSpec] = {spec.name: spec for spec in SERVICES}


class UnknownService(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"unknown service {self.name!r}; available: {', '.join(SERVICES_BY_NAME)}"


def spec(name: str) -> ServiceSpec:
    try:
        return SERVICES_BY_NAME[name]
    except KeyError:
        raise UnknownService(name) from None


def build_processor(name: str) -> Any:
    """A stream service's processor, built the way ``perpwatch run`` builds it."""
    service = spec(name)
    if service.kind != "stream":
        raise ValueError(f"{name} is a {service.kind} service, not a stream processor")
    factory: Callable[[], Any] = service.load()
    return factory()


@dataclass(frozen=True)
class OfflineRun:
    """What ``perpwatch analyze NAME`` resolved NAME to."""

    service: ServiceSpec
    outputs: tuple[str, ...]
    """Output topics to print; empty: all of them."""

    @property
    def options(self) -> tuple[OfflineOption, ...]:
        return self.service.offline.options if self.service.offline else ()


def offline_run(name: str) -> OfflineRun:
    """A stream service by name, or by one of its offline views (``candles`` is analytics' bars)."""
    for service in SERVICES:
        for view, outputs in service.offline.views if service.offline else ():
            if view == name:
                return OfflineRun(service, outputs)
    service = spec(name)
    if service.kind != "stream":
        raise ValueError(f"{name} is a {service.kind} service, not a stream processor")
    return OfflineRun(service, ())


def build_offline_processor(
    run: OfflineRun, values: dict[str, str], environ: MutableMapping[str, str]
) -> Any:
    """The processor of ``perpwatch analyze``. Its settings come from the environment, as for
    ``perpwatch run``, after the offline defaults and then the option ``values`` (flag -> value)
    are written into ``environ`` (``os.environ`` in the CLI: the process runs only this)."""
    offline = run.service.offline or OfflineSpec()
    by_flag = {option.flag: option for option in offline.options}
    unknown = sorted(set(values) - set(by_flag))
    if unknown:
        known = ", ".join(f"--{flag}" for flag in by_flag) or "none"
        raise ValueError(
            f"{run.service.name} has no option {', '.join('--' + f for f in unknown)}; options: {known}"
        )
    for env, value in offline.defaults:
        environ.setdefault(env, value)
    for flag, value in values.items():
        environ[by_flag[flag].env] = value
    factory: Callable[[], Any] = load_entry(offline.entry or run.service.entry)
    return factory()


def run(name: str, settings: Settings) -> None:
    """``perpwatch run NAME``: run one service until SIGTERM/SIGINT/SIGHUP, then drain."""
    service = spec(name)
    if service.kind == "stream":
        from services.runtime.process import run_process
        from services.runtime.service import StreamService

        # Built inside the shell, so what the processor logs while it is built is formatted too.
        run_process(name, settings, lambda: StreamService(build_processor(name), settings))
    else:
        runner: Callable[[Settings], None] = service.load()
        runner(settings)
