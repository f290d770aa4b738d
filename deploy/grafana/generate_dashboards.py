"""Builds the provisioned Grafana dashboards (deploy/grafana/dashboards/*.json).

The dashboards are data: writing them as Python keeps the panel boilerplate in one place and
every query next to the table it reads. Run after editing, from the repository root:

    .venv/bin/python deploy/grafana/generate_dashboards.py

It writes deploy/grafana/dashboards/ and the Helm chart's copies (helm/perpwatch/dashboards/);
tests/deploy fails while the committed files differ from what this prints, and runs every SQL
query against the migrated schema.

Conventions every dashboard follows (tests/deploy/test_deploy_grafana.py checks them):
- SQL panels use the PostgreSQL data source of the ``datasource`` variable, Prometheus panels
  the one of the ``prometheus`` variable: the dashboards work in any Grafana whatever the
  data sources are called (the Helm chart ships them to a sidecar);
- every SQL query is bounded by ``$__timeFilter`` and follows the ``exchange`` and ``symbol``
  selection when the dashboard has those variables;
- Grafana dashboard JSON schema version 41 (Grafana 12).
"""

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
OUTPUTS = (REPO_ROOT / "deploy" / "grafana" / "dashboards", REPO_ROOT / "helm" / "perpwatch" / "dashboards")
SCHEMA_VERSION = 41
PG = {"type": "grafana-postgresql-datasource", "uid": "${datasource}"}
PROM = {"type": "prometheus", "uid": "${prometheus}"}

Json = dict[str, Any]


# --- building blocks ------------------------------------------------------------------------


class Layout:
    """Hands out panel ids and grid positions, left to right, then down."""

    def __init__(self) -> None:
        self.next_id = 1
        self.x = 0
        self.y = 0
        self.row_height = 0

    def place(self, width: int, height: int) -> tuple[int, Json]:
        if self.x + width > 24:
            self.x, self.y, self.row_height = 0, self.y + self.row_height, 0
        grid = {"x": self.x, "y": self.y, "w": width, "h": height}
        self.x += width
        self.row_height = max(self.row_height, height)
        panel_id, self.next_id = self.next_id, self.next_id + 1
        return panel_id, grid


def sql_target(sql: str, fmt: str = "time_series", ref: str = "A") -> Json:
    return {
        "refId": ref,
        "datasource": PG,
        "editorMode": "code",
        "format": fmt,
        "rawQuery": True,
        "rawSql": sql,
    }


def prom_target(expr: str, legend: str, ref: str = "A") -> Json:
    return {
        "refId": ref,
        "datasource": PROM,
        "editorMode": "code",
        "expr": expr,
        "legendFormat": legend,
        "range": True,
    }


def field_config(unit: str | None = None, **custom: Any) -> Json:
    defaults: Json = {}
    if unit:
        defaults["unit"] = unit
    if custom:
        defaults["custom"] = custom
    return {"defaults": defaults, "overrides": []}


def panel(
    layout: Layout,
    kind: str,
    title: str,
    description: str,
    targets: list[Json],
    *,
    width: int = 12,
    height: int = 8,
    unit: str | None = None,
    options: Json | None = None,
    custom: Json | None = None,
) -> Json:
    panel_id, grid = layout.place(width, height)
    datasource = targets[0]["datasource"]
    body: Json = {
        "id": panel_id,
        "type": kind,
        "title": title,
        "description": description,
        "datasource": datasource,
        "gridPos": grid,
        "fieldConfig": field_config(unit, **(custom or {})),
        "options": options or {},
        "targets": targets,
    }
    return body


def timeseries(layout: Layout, title: str, description: str, targets: list[Json], **kw: Any) -> Json:
    kw.setdefault(
        "options",
        {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
    )
    return panel(layout, "timeseries", title, description, targets, **kw)


def stat(layout: Layout, title: str, description: str, sql: str, unit: str | None = None) -> Json:
    options = {
        "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
        "colorMode": "value",
        "graphMode": "none",
        "textMode": "auto",
        "justifyMode": "auto",
        "orientation": "auto",
    }
    return panel(
        layout,
        "stat",
        title,
        description,
        [sql_target(sql, "table")],
        width=6,
        height=4,
        unit=unit,
        options=options,
    )


def table(
    layout: Layout, title: str, description: str, sql: str, *, width: int = 24, height: int = 9
) -> Json:
    options = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"], "fields": ""},
    }
    return panel(
        layout,
        "table",
        title,
        description,
        [sql_target(sql, "table")],
        width=width,
        height=height,
        options=options,
    )


def market_variables(tables: tuple[str, ...], exchange_column: str = "exchange") -> list[Json]:
    """datasource, exchange and symbol variables reading the dashboard's own tables."""

    def union(column: str, extra: str = "") -> str:
        return "\nUNION\n".join(f"SELECT {column} FROM {t} WHERE $__timeFilter(ts){extra}" for t in tables)

    exchanges = union(f"{exchange_column} AS exchange")
    symbols = union("symbol", f" AND {exchange_column} IN ($exchange)")

    def query_variable(name: str, label: str, sql: str) -> Json:
        return {
            "name": name,
            "label": label,
            "type": "query",
            "datasource": PG,
            "definition": sql,
            "query": sql,
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "current": {},
            "options": [],
            "sort": 1,
            "hide": 0,
            "regex": "",
        }

    return [
        pg_datasource_variable(),
        query_variable("exchange", "Exchange", exchanges),
        query_variable("symbol", "Symbol", symbols),
    ]


def pg_datasource_variable() -> Json:
    return {
        "name": "datasource",
        "label": "Data source",
        "type": "datasource",
        "query": "grafana-postgresql-datasource",
        "current": {},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
    }


def prometheus_datasource_variable() -> Json:
    variable = pg_datasource_variable()
    variable.update(name="prometheus", label="Prometheus", query="prometheus")
    return variable


def sql_annotation(name: str, sql: str, color: str) -> Json:
    return {
        "name": name,
        "datasource": PG,
        "enable": True,
        "hide": False,
        "iconColor": color,
        "target": sql_target(sql, "table", ref="Anno"),
    }


def builtin_annotation() -> Json:
    return {
        "builtIn": 1,
        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True,
        "hide": True,
        "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts",
        "type": "dashboard",
    }


def dashboard(
    uid: str,
    title: str,
    description: str,
    tags: list[str],
    panels: list[Json],
    variables: list[Json],
    annotations: list[Json] | None = None,
    time_from: str = "now-1h",
) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["perpwatch", *tags],
        "timezone": "utc",
        "editable": False,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "refresh": "30s",
        "time": {"from": time_from, "to": "now"},
        "timepicker": {},
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "links": [
            {
                "title": "perpwatch dashboards",
                "type": "dashboards",
                "tags": ["perpwatch"],
                "asDropdown": True,
                "includeVars": False,
                "keepTime": True,
                "icon": "external link",
                "targetBlank": False,
                "tooltip": "",
                "url": "",
            }
        ],
        "annotations": {"list": [builtin_annotation(), *(annotations or [])]},
        "templating": {"list": variables},
        "panels": panels,
    }


MARKET = "exchange IN ($exchange) AND symbol IN ($symbol)"


# --- market overview -----------------------------------------------------------------------


def market() -> Json:
    lay = Layout()
    bbo_age = (
        "SELECT EXTRACT(EPOCH FROM now() - max(ts)) AS seconds\nFROM book_bbo\nWHERE $__timeFilter(ts) AND "
        + MARKET
    )
    panels = [
        stat(
            lay,
            "Seconds since last BBO row",
            "Age of the newest book_bbo row (venue time) in the selected range and markets.",
            bbo_age,
            "s",
        ),
        stat(
            lay,
            "Seconds since last trade row",
            "Age of the newest market_trades row (venue time) in the selected range and markets.",
            "SELECT EXTRACT(EPOCH FROM now() - max(ts)) AS seconds\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
            + MARKET,
            "s",
        ),
        stat(
            lay,
            "BBO rows in range",
            "book_bbo rows in the selected range and markets.",
            "SELECT count(*) AS rows\nFROM book_bbo\nWHERE $__timeFilter(ts) AND " + MARKET,
        ),
        stat(
            lay,
            "Trades in range",
            "market_trades rows in the selected range and markets.",
            "SELECT count(*) AS trades\nFROM market_trades\nWHERE $__timeFilter(ts) AND " + MARKET,
        ),
        panel(
            lay,
            "candlestick",
            "Candles (1m, analytics)",
            "One-minute OHLC and volume bars of the analytics service (candles, interval_s = 60), one market at a time: pick a single exchange and symbol.",
            [
                sql_target(
                    'SELECT ts AS "time", open, high, low, close, volume\nFROM candles\n'
                    "WHERE $__timeFilter(ts) AND interval_s = 60 AND " + MARKET + "\nORDER BY 1",
                    "table",
                )
            ],
            width=24,
            height=10,
            options={
                "mode": "candles+volume",
                "candleStyle": "candles",
                "colorStrategy": "open-close",
                "colors": {"up": "green", "down": "red"},
                "includeAllFields": False,
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            },
        ),
        timeseries(
            lay,
            "Cross-venue mid price",
            "Mid price of each venue's book (book_bbo) for the selected symbols: the lines should overlap; a gap is a dislocation the arbitrage dashboard quantifies.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  symbol || ' ' || exchange AS metric,\n"
                    "  avg((bid_price + ask_price) / 2) AS mid\nFROM book_bbo\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="currencyUSD",
        ),
        timeseries(
            lay,
            "Deviation from the cross-venue mean mid (bps)",
            "Each venue's mid against the mean mid of all selected venues for the same symbol and bucket.",
            [
                sql_target(
                    "WITH mids AS (\n  SELECT $__timeGroupAlias(ts, $__interval), exchange, symbol, avg((bid_price + ask_price) / 2) AS mid\n"
                    "  FROM book_bbo\n  WHERE $__timeFilter(ts) AND " + MARKET + "\n  GROUP BY 1, 2, 3\n)\n"
                    "SELECT \"time\", symbol || ' ' || exchange AS metric,\n"
                    '  (mid / NULLIF(avg(mid) OVER (PARTITION BY "time", symbol), 0) - 1) * 10000 AS deviation_bps\n'
                    "FROM mids\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Best bid / ask / mid",
            "Average best bid, best ask and mid per interval from book_bbo.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol AS metric,\n  avg(bid_price) AS bid,\n"
                    "  avg(ask_price) AS ask,\n  avg((bid_price + ask_price) / 2) AS mid\nFROM book_bbo\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="currencyUSD",
        ),
        timeseries(
            lay,
            "Spread (bps)",
            "Average bid/ask spread in basis points of mid, from book_bbo.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol AS metric,\n"
                    "  avg((ask_price - bid_price) / NULLIF((ask_price + bid_price) / 2, 0) * 10000) AS spread_bps\nFROM book_bbo\n"
                    "WHERE $__timeFilter(ts) AND " + MARKET + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Traded quantity per minute",
            "Sum of trade quantities (base units) per minute, from market_trades.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  exchange || ':' || symbol AS metric,\n  sum(quantity) AS quantity\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            width=8,
            custom={"drawStyle": "bars", "fillOpacity": 60},
        ),
        timeseries(
            lay,
            "Traded notional per minute",
            "Sum of trade notionals (quote currency) per minute, from market_trades.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  exchange || ':' || symbol AS metric,\n  sum(notional) AS notional\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            width=8,
            custom={"drawStyle": "bars", "fillOpacity": 60},
        ),
        timeseries(
            lay,
            "Trades per minute",
            "Trade count per minute and aggressor side, from market_trades.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  exchange || ':' || symbol || ' ' || side AS metric,\n  count(*) AS trades\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            width=8,
        ),
        timeseries(
            lay,
            "Funding rate",
            "Funding rate per funding interval as reported by each venue (funding_rates).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol AS metric,\n  avg(rate) AS rate\nFROM funding_rates\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            lay,
            "Open interest",
            "Open interest in base units (open_interest).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol AS metric,\n  avg(open_interest) AS open_interest\nFROM open_interest\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Rows written per minute",
            "Rows per minute in book_bbo and market_trades: a flat line means a stalled feed or service.",
            [
                sql_target(
                    "SELECT $__timeGroupAlias(ts, '1m'), 'book_bbo' AS metric, count(*) AS rows\nFROM book_bbo\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\n"
                    "UNION ALL\nSELECT $__timeGroupAlias(ts, '1m'), 'market_trades' AS metric, count(*) AS rows\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Receive lag (venue time to receive time)",
            "receive_ts minus venue ts in milliseconds (includes clock skew between us and the venue).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol || ' bbo' AS metric,\n  avg(EXTRACT(EPOCH FROM receive_ts - ts) * 1000) AS lag_ms\nFROM book_bbo\n"
                    "WHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nUNION ALL\nSELECT\n  $__timeGroupAlias(ts, $__interval),\n  exchange || ':' || symbol || ' trades' AS metric,\n"
                    "  avg(EXTRACT(EPOCH FROM receive_ts - ts) * 1000) AS lag_ms\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="ms",
        ),
    ]
    return dashboard(
        "perpwatch-market",
        "perpwatch / market overview",
        "Candles, cross-venue prices, top of book, spreads, trade flow, funding, open interest and data freshness (book_bbo, market_trades, candles, funding_rates, open_interest).",
        ["market-data"],
        panels,
        market_variables(("book_bbo", "market_trades")),
    )


# --- arbitrage --------------------------------------------------------------------------------

ARB_MARKET = "(buy_exchange IN ($exchange) OR sell_exchange IN ($exchange)) AND symbol IN ($symbol)"


def arbitrage() -> Json:
    lay = Layout()
    pair = "symbol || ' ' || buy_exchange || ' -> ' || sell_exchange"
    panels = [
        stat(
            lay,
            "Opportunities open",
            "Opportunities whose latest event in the range is not 'closed' (view arb_open_opportunities).",
            "SELECT count(*) AS open\nFROM arb_open_opportunities\nWHERE $__timeFilter(ts) AND " + ARB_MARKET,
        ),
        stat(
            lay,
            "Opportunities opened",
            "Opportunities opened in the range (arb_opportunities, event 'opened').",
            "SELECT count(*) AS opened\nFROM arb_opportunities\nWHERE $__timeFilter(ts) AND event = 'opened' AND "
            + ARB_MARKET,
        ),
        stat(
            lay,
            "Best peak (bps)",
            "Highest net spread (after fees) any opportunity reached in the range.",
            "SELECT max(peak_bps) AS peak_bps\nFROM arb_opportunities\nWHERE $__timeFilter(ts) AND "
            + ARB_MARKET,
        ),
        stat(
            lay,
            "Median duration",
            "Median lifetime of the opportunities closed in the range.",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_ms) AS duration_ms\nFROM arb_opportunities\nWHERE $__timeFilter(ts) AND event = 'closed' AND "
            + ARB_MARKET,
            "ms",
        ),
        table(
            lay,
            "Open opportunities",
            "Latest state of every open opportunity: buy on buy_exchange, sell on sell_exchange; value_bps is net of taker fees at the quoted notional.",
            'SELECT ts AS "last update", kind, '
            + pair
            + " AS pair, value_bps, peak_bps, notional, funding_differential_apr,\n"
            "  opened_ts AS opened, EXTRACT(EPOCH FROM ts - opened_ts) AS age_s\nFROM arb_open_opportunities\nWHERE $__timeFilter(ts) AND "
            + ARB_MARKET
            + "\nORDER BY value_bps DESC\nLIMIT 100",
            height=8,
        ),
        timeseries(
            lay,
            "Gross cross-venue spread (bps)",
            "Sell venue's bid over buy venue's ask in bps of mid, per venue pair (arb_spreads, before fees and depth).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + pair
                    + " AS metric,\n  avg(gross_spread_bps) AS gross_spread_bps\nFROM arb_spreads\nWHERE $__timeFilter(ts) AND "
                    + ARB_MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Executable spread at the smallest notional (bps)",
            "Spread after walking both books for the first configured notional and paying taker fees (arb_spreads.executable_bps[1]).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + pair
                    + " || ' @' || notionals[1] AS metric,\n  avg(executable_bps[1]) AS executable_bps\nFROM arb_spreads\nWHERE $__timeFilter(ts) AND cardinality(executable_bps) > 0 AND "
                    + ARB_MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Funding differential (APR)",
            "Annualised funding of the sell venue minus the buy venue (arb_spreads): what holding the hedged pair earns.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + pair
                    + " AS metric,\n  avg(funding_differential_apr) AS funding_differential_apr\nFROM arb_spreads\nWHERE $__timeFilter(ts) AND funding_differential_apr IS NOT NULL AND "
                    + ARB_MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="percentunit",
        ),
        timeseries(
            lay,
            "Opportunity events per minute",
            "opened / updated / closed events per minute (arb_opportunities).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  kind || ' ' || event AS metric,\n  count(*) AS events\nFROM arb_opportunities\nWHERE $__timeFilter(ts) AND "
                    + ARB_MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"}},
        ),
        table(
            lay,
            "Closed opportunities",
            "Opportunities closed in the range, best first, with why they closed.",
            "SELECT closed_ts AS closed, kind, "
            + pair
            + " AS pair, peak_bps, peak_ts, duration_ms, notional, reason\n"
            "FROM arb_opportunities\nWHERE $__timeFilter(ts) AND event = 'closed' AND "
            + ARB_MARKET
            + "\nORDER BY peak_bps DESC\nLIMIT 100",
        ),
    ]
    variables = market_variables(("arb_spreads",), exchange_column="buy_exchange")
    # Exchanges of both legs.
    for variable in variables:
        if variable["name"] == "exchange":
            sql = "SELECT buy_exchange AS exchange FROM arb_spreads WHERE $__timeFilter(ts)\nUNION\nSELECT sell_exchange FROM arb_spreads WHERE $__timeFilter(ts)"
            variable["query"] = variable["definition"] = sql
        if variable["name"] == "symbol":
            sql = "SELECT symbol FROM arb_spreads WHERE $__timeFilter(ts) AND (buy_exchange IN ($exchange) OR sell_exchange IN ($exchange))"
            variable["query"] = variable["definition"] = sql
    return dashboard(
        "perpwatch-arbitrage",
        "perpwatch / arbitrage",
        "Cross-venue opportunities of the arbitrage service: open opportunities, gross and executable spread history, funding differentials (arb_spreads, arb_opportunities).",
        ["arbitrage"],
        panels,
        variables,
    )


# --- liquidity --------------------------------------------------------------------------------


def liquidity() -> Json:
    lay = Layout()
    market = "exchange || ':' || symbol"
    bands = "\nUNION ALL\n".join(
        f"SELECT $__timeGroupAlias(ts, $__interval), {market} || ' ±{band}bps' AS metric,\n"
        f"  avg(bid_notional_{band}bps + ask_notional_{band}bps) AS notional\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND {MARKET}\nGROUP BY 1, 2"
        for band in (10, 25, 50, 100)
    )
    panels = [
        stat(
            lay,
            "Crunches in range",
            "Liquidity crunches that started in the range (liquidity_anomalies).",
            "SELECT count(*) AS crunches\nFROM liquidity_anomalies\nWHERE $__timeFilter(ts) AND phase = 'started' AND "
            + MARKET,
        ),
        stat(
            lay,
            "Markets in a crunch now",
            "Markets whose latest metric row says a crunch is active.",
            "SELECT count(*) FILTER (WHERE crunch_active) AS in_crunch\nFROM (\n  SELECT DISTINCT ON (exchange, symbol) crunch_active\n  FROM liquidity_metrics\n  WHERE $__timeFilter(ts) AND "
            + MARKET
            + "\n  ORDER BY exchange, symbol, ts DESC\n) latest",
        ),
        stat(
            lay,
            "Median spread (bps)",
            "Median bid/ask spread over the range (liquidity_metrics).",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY spread_bps) AS spread_bps\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
            + MARKET,
        ),
        stat(
            lay,
            "Median depth ±25bps",
            "Median bid+ask notional within 25 bps of mid.",
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY bid_notional_25bps + ask_notional_25bps) AS notional\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
            + MARKET,
            "short",
        ),
        timeseries(
            lay,
            "Spread (bps)",
            "Bid/ask spread in bps of mid per book update (liquidity_metrics); crunches are annotated.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(spread_bps) AS spread_bps,\n  max(spread_bps) AS max_spread_bps\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Depth bands (notional within ±N bps of mid)",
            "Bid plus ask notional resting within 10, 25, 50 and 100 bps of mid (liquidity_metrics).",
            [sql_target(bands + "\nORDER BY 1")],
            unit="short",
        ),
        timeseries(
            lay,
            "Bid vs ask depth ±50bps",
            "Notional on each side within 50 bps: a one-sided collapse shows here first.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(bid_notional_50bps) AS bid,\n  -avg(ask_notional_50bps) AS ask\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="short",
        ),
        timeseries(
            lay,
            "Crunch detector: spread and depth z-scores",
            "The z-scores the crunch detector compares with its threshold, and its CUSUM (liquidity_metrics).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(spread_z) AS spread_z,\n  avg(depth_z) AS depth_z,\n  avg(cusum) AS cusum\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Slippage of the reference notional (bps)",
            "Cost of a market buy and sell of slippage_notional, in bps of mid (liquidity_metrics).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(buy_slippage_bps) AS buy,\n  avg(sell_slippage_bps) AS sell\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Book and trade-flow imbalance",
            "Depth imbalance of the book and taker-flow imbalance, both in [-1, 1] (liquidity_metrics).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(imbalance) AS book,\n  avg(trade_flow_imbalance) AS trades\nFROM liquidity_metrics\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        table(
            lay,
            "Crunches",
            "Every crunch start and end in the range, worst first.",
            "SELECT started_ts AS started, ended_ts AS ended, exchange, symbol, phase, severity, severity_score,\n  duration_s, peak_spread_z, peak_depth_z, samples\nFROM liquidity_anomalies\nWHERE $__timeFilter(ts) AND "
            + MARKET
            + "\nORDER BY severity_score DESC, ts DESC\nLIMIT 100",
        ),
    ]
    crunches = sql_annotation(
        "Liquidity crunches",
        'SELECT started_ts AS "time", COALESCE(ended_ts, ts) AS "timeEnd",\n'
        "  exchange || ':' || symbol || ' ' || severity || ' crunch (' || phase || ')' AS text, severity AS tags\n"
        "FROM liquidity_anomalies\nWHERE $__timeFilter(ts) AND " + MARKET,
        "red",
    )
    return dashboard(
        "perpwatch-liquidity",
        "perpwatch / liquidity",
        "Spread, depth bands, slippage, imbalance and liquidity-crunch detection of the liquidity service (liquidity_metrics, liquidity_anomalies); crunches are annotations on every panel.",
        ["liquidity"],
        panels,
        market_variables(("liquidity_metrics",)),
        [crunches],
    )


# --- flow ------------------------------------------------------------------------------------


def flow() -> Json:
    lay = Layout()
    market = "exchange || ':' || symbol"
    panels = [
        stat(
            lay,
            "Liquidated notional",
            "Sum of liquidation notionals in the range (liquidations, quote currency).",
            "SELECT sum(notional) AS notional\nFROM liquidations\nWHERE $__timeFilter(ts) AND " + MARKET,
            "short",
        ),
        stat(
            lay,
            "Large trades in range",
            "Trades above the analytics service's USD threshold (analytics_large_trades).",
            "SELECT count(*) AS trades\nFROM analytics_large_trades\nWHERE $__timeFilter(ts) AND " + MARKET,
        ),
        stat(
            lay,
            "Spikes in range",
            "Volume and open-interest spikes in the range (analytics_spikes).",
            "SELECT count(*) AS spikes\nFROM analytics_spikes\nWHERE $__timeFilter(ts) AND " + MARKET,
        ),
        stat(
            lay,
            "Taker buy share",
            "Taker buy volume over all volume in the range (market_trades).",
            "SELECT sum(quantity) FILTER (WHERE side = 'buy') / NULLIF(sum(quantity), 0) AS buy_share\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
            + MARKET,
            "percentunit",
        ),
        timeseries(
            lay,
            "Liquidations per minute (notional)",
            "Liquidated notional per minute and side of the liquidated order (liquidations).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  "
                    + market
                    + " || ' ' || side AS metric,\n  sum(notional) AS notional\nFROM liquidations\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="short",
            custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"}},
        ),
        timeseries(
            lay,
            "Flow windows (USD)",
            "Liquidation and large-trade notional per window and side, as the analytics service aggregates it (analytics_flow_windows).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " || ' ' || kind || ' ' || side || ' ' || window_s || 's' AS metric,\n  sum(notional_usd) AS notional_usd\nFROM analytics_flow_windows\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            unit="currencyUSD",
        ),
        timeseries(
            lay,
            "Large trades",
            "Each large trade as a point: notional in USD by aggressor side (analytics_large_trades).",
            [
                sql_target(
                    'SELECT ts AS "time", '
                    + market
                    + " || ' ' || side AS metric, notional_usd\nFROM analytics_large_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nORDER BY 1"
                )
            ],
            unit="currencyUSD",
            custom={"drawStyle": "points", "pointSize": 8},
        ),
        timeseries(
            lay,
            "Spike z-scores",
            "z-score of each detected spike against its rolling baseline (analytics_spikes).",
            [
                sql_target(
                    'SELECT ts AS "time", '
                    + market
                    + " || ' ' || metric || ' ' || timeframe_s || 's' AS metric, z\nFROM analytics_spikes\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nORDER BY 1"
                )
            ],
            custom={"drawStyle": "points", "pointSize": 8},
        ),
        timeseries(
            lay,
            "Taker buy vs sell volume per minute",
            "Base volume per minute by aggressor side (market_trades); sells drawn below zero.",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  "
                    + market
                    + " AS metric,\n  sum(quantity) FILTER (WHERE side = 'buy') AS buy,\n  -sum(quantity) FILTER (WHERE side = 'sell') AS sell\nFROM market_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            custom={"drawStyle": "bars", "fillOpacity": 60},
        ),
        timeseries(
            lay,
            "Open interest change",
            "Open interest (base units) per venue: spikes in oi_change come from here (open_interest).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  "
                    + market
                    + " AS metric,\n  avg(open_interest) AS open_interest\nFROM open_interest\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        table(
            lay,
            "Largest trades",
            "The largest trades of the range (analytics_large_trades).",
            'SELECT ts AS "time", exchange, symbol, side, price, quantity, notional_usd, threshold_usd\nFROM analytics_large_trades\nWHERE $__timeFilter(ts) AND '
            + MARKET
            + "\nORDER BY notional_usd DESC\nLIMIT 100",
            width=12,
        ),
        table(
            lay,
            "Spikes",
            "Volume (log_volume) and open-interest (oi_change) spikes of the range, strongest first (analytics_spikes).",
            'SELECT ts AS "time", exchange, symbol, timeframe_s, metric, value, baseline_mean, z, threshold\nFROM analytics_spikes\nWHERE $__timeFilter(ts) AND '
            + MARKET
            + "\nORDER BY abs(z) DESC\nLIMIT 100",
            width=12,
        ),
    ]
    spikes = sql_annotation(
        "Spikes",
        "SELECT ts AS \"time\", exchange || ':' || symbol || ' ' || metric || ' spike z=' || round(z::numeric, 1) AS text, metric AS tags\n"
        "FROM analytics_spikes\nWHERE $__timeFilter(ts) AND " + MARKET,
        "orange",
    )
    return dashboard(
        "perpwatch-flow",
        "perpwatch / flow",
        "Liquidations, large trades, taker flow and volume/open-interest spikes (liquidations, market_trades, open_interest, analytics_flow_windows, analytics_large_trades, analytics_spikes).",
        ["flow"],
        panels,
        market_variables(("market_trades", "liquidations")),
        [spikes],
    )


# --- venue -----------------------------------------------------------------------------------


def venue() -> Json:
    lay = Layout()
    # Resting orders: each order's latest state, if it still rests on the book.
    resting = (
        "WITH latest AS (\n  SELECT DISTINCT ON (exchange, symbol, account, client_order_id)\n"
        "    exchange, symbol, side, price, remaining_quantity, status\n  FROM venue_orders\n"
        "  WHERE $__timeFilter(ts) AND "
        + MARKET
        + "\n  ORDER BY exchange, symbol, account, client_order_id, ts DESC, seq DESC\n)\n"
    )
    panels = [
        stat(
            lay,
            "Orders received",
            "Order requests the venue accepted or rejected in the range (venue_orders, status accepted/rejected).",
            "SELECT count(*) AS orders\nFROM venue_orders\nWHERE $__timeFilter(ts) AND status IN ('accepted', 'rejected') AND "
            + MARKET,
        ),
        stat(
            lay,
            "Rejected orders",
            "Orders rejected in the range.",
            "SELECT count(*) AS rejected\nFROM venue_orders\nWHERE $__timeFilter(ts) AND status = 'rejected' AND "
            + MARKET,
        ),
        stat(
            lay,
            "Trades",
            "Fills in the range (venue_trades).",
            "SELECT count(*) AS trades\nFROM venue_trades\nWHERE $__timeFilter(ts) AND " + MARKET,
        ),
        stat(
            lay,
            "Traded notional",
            "Price times quantity of the fills in the range.",
            "SELECT sum(price * quantity) AS notional\nFROM venue_trades\nWHERE $__timeFilter(ts) AND "
            + MARKET,
            "short",
        ),
        timeseries(
            lay,
            "Order events per minute",
            "Order lifecycle events per minute by status (venue_orders).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  symbol || ' ' || status AS metric,\n  count(*) AS events\nFROM venue_orders\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            custom={"drawStyle": "bars", "fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"}},
        ),
        timeseries(
            lay,
            "Trade price",
            "Average fill price per interval (venue_trades).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, $__interval),\n  symbol AS metric,\n  sum(price * quantity) / NULLIF(sum(quantity), 0) AS vwap\nFROM venue_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
        ),
        timeseries(
            lay,
            "Traded quantity per minute",
            "Base quantity filled per minute by aggressor side (venue_trades).",
            [
                sql_target(
                    "SELECT\n  $__timeGroupAlias(ts, '1m'),\n  symbol || ' ' || aggressor_side AS metric,\n  sum(quantity) AS quantity\nFROM venue_trades\nWHERE $__timeFilter(ts) AND "
                    + MARKET
                    + "\nGROUP BY 1, 2\nORDER BY 1"
                )
            ],
            custom={"drawStyle": "bars", "fillOpacity": 60},
        ),
        panel(
            lay,
            "barchart",
            "Resting depth by price",
            "Remaining quantity of the orders still resting (latest state accepted, partially filled, amended or triggered), per side and price, from the orders seen in the range.",
            [
                sql_target(
                    resting
                    + "SELECT price::text AS price,\n  sum(remaining_quantity) FILTER (WHERE side = 'buy') AS bids,\n"
                    "  sum(remaining_quantity) FILTER (WHERE side = 'sell') AS asks\nFROM latest\n"
                    "WHERE status IN ('accepted', 'partially_filled', 'amended', 'triggered') AND price IS NOT NULL\nGROUP BY price\nORDER BY price",
                    "table",
                )
            ],
            options={
                "orientation": "horizontal",
                "stacking": "none",
                "showValue": "never",
                "xField": "price",
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            },
        ),
        table(
            lay,
            "Recent trades",
            "The latest fills (venue_trades).",
            'SELECT ts AS "time", symbol, trade_id, aggressor_side, price, quantity, maker_account, taker_account, maker_fee, taker_fee\nFROM venue_trades\nWHERE $__timeFilter(ts) AND '
            + MARKET
            + "\nORDER BY ts DESC\nLIMIT 100",
            width=12,
        ),
        table(
            lay,
            "Recent order events",
            "The latest order events, rejections with their reason (venue_orders).",
            'SELECT ts AS "time", symbol, account, client_order_id, status, side, order_type, price, quantity, filled_quantity, reason\nFROM venue_orders\nWHERE $__timeFilter(ts) AND '
            + MARKET
            + "\nORDER BY ts DESC, seq DESC\nLIMIT 100",
            width=12,
        ),
    ]
    return dashboard(
        "perpwatch-venue",
        "perpwatch / matching venue",
        "perpwatch's own matching venue: orders, fills and resting depth as recorded by venue-recorder (venue_orders, venue_trades).",
        ["venue"],
        panels,
        market_variables(("venue_orders", "venue_trades")),
    )


# --- system health ---------------------------------------------------------------------------


def system() -> Json:
    lay = Layout()

    def prom(
        title: str,
        description: str,
        expr: str | list[tuple[str, str]],
        legend: str = "",
        unit: str | None = None,
        width: int = 12,
        **custom: Any,
    ) -> Json:
        # Several series families go in separate targets: `a or b` would drop b's series
        # wherever a has one with the same labels.
        queries = [(expr, legend)] if isinstance(expr, str) else expr
        targets = [prom_target(e, lg, ref=chr(ord("A") + i)) for i, (e, lg) in enumerate(queries)]
        return timeseries(lay, title, description, targets, unit=unit, width=width, custom=custom or None)

    panels = [
        panel(
            lay,
            "stat",
            "Services up",
            "Scrape health of every service's /metrics (Prometheus `up`): 1 up, 0 down.",
            [prom_target('up{job="perpwatch"}', "{{service}}")],
            width=24,
            height=4,
            options={
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                "colorMode": "background",
                "graphMode": "none",
                "textMode": "value_and_name",
                "justifyMode": "auto",
                "orientation": "auto",
            },
        ),
        panel(
            lay,
            "state-timeline",
            "Connector states (WebSocket connections open)",
            "Open WebSocket connections per venue (perpwatch_ingest_connections_up): 0 is a venue down or reconnecting.",
            [prom_target("sum by (exchange) (perpwatch_ingest_connections_up)", "{{exchange}}")],
            width=24,
            height=8,
            options={
                "showValue": "auto",
                "mergeValues": True,
                "alignValue": "left",
                "rowHeight": 0.9,
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            },
        ),
        prom(
            "Consumer lag",
            "Records on each input topic not yet consumed, per service (perpwatch_consumer_lag).",
            "sum by (service, topic) (perpwatch_consumer_lag)",
            "{{service}} {{topic}}",
        ),
        prom(
            "Records consumed per second",
            "Kafka records consumed per second and service (perpwatch_messages_consumed_total).",
            "sum by (service) (rate(perpwatch_messages_consumed_total[$__rate_interval]))",
            "{{service}}",
            "ops",
        ),
        prom(
            "Events published per second",
            "Events produced per second, per service and topic (perpwatch_events_published_total).",
            "sum by (service, topic) (rate(perpwatch_events_published_total[$__rate_interval]))",
            "{{service}} {{topic}}",
            "ops",
        ),
        prom(
            "Dead letters per minute",
            "Inputs rejected to dlq.v1, by service and error type (perpwatch_dead_letters_total).",
            "sum by (service, error_type) (increase(perpwatch_dead_letters_total[1m]))",
            "{{service}} {{error_type}}",
        ),
        prom(
            "Rows written per second",
            "Database rows written per table (perpwatch_sink_rows_written_total).",
            "sum by (table) (rate(perpwatch_sink_rows_written_total[$__rate_interval]))",
            "{{table}}",
            "ops",
        ),
        prom(
            "Sink batch latency p99",
            "99th percentile time to write and commit one batch, retries included (perpwatch_sink_batch_seconds).",
            "histogram_quantile(0.99, sum by (table, le) (rate(perpwatch_sink_batch_seconds_bucket[$__rate_interval])))",
            "{{table}}",
            "s",
        ),
        prom(
            "Feed lag p99",
            "Receive time minus venue event time, 99th percentile per venue (perpwatch_ingest_feed_lag_seconds).",
            "histogram_quantile(0.99, sum by (exchange, le) (rate(perpwatch_ingest_feed_lag_seconds_bucket[$__rate_interval])))",
            "{{exchange}}",
            "s",
        ),
        prom(
            "Reconnects and parse errors per minute",
            "Venue reconnects and frames that failed to parse (perpwatch_ingest_reconnects_total, perpwatch_ingest_parse_errors_total).",
            [
                (
                    "sum by (exchange) (increase(perpwatch_ingest_reconnects_total[1m]))",
                    "{{exchange}} reconnects",
                ),
                (
                    "sum by (exchange) (increase(perpwatch_ingest_parse_errors_total[1m]))",
                    "{{exchange}} parse errors",
                ),
            ],
        ),
        prom(
            "Books valid",
            "1 while a book is consistent and published, per venue and symbol (perpwatch_book_valid).",
            "min by (exchange, symbol) (perpwatch_book_valid)",
            "{{exchange}} {{symbol}}",
        ),
        prom(
            "Book gaps and resyncs per minute",
            "Sequence gaps detected and resyncs done by the book builder (perpwatch_book_gaps_total, perpwatch_book_resyncs_total).",
            [
                ("sum by (exchange) (increase(perpwatch_book_gaps_total[1m]))", "{{exchange}} gaps"),
                ("sum by (exchange) (increase(perpwatch_book_resyncs_total[1m]))", "{{exchange}} resyncs"),
            ],
        ),
        prom(
            "Sink retries and delivery failures per minute",
            "Database batches retried and Kafka deliveries that failed and were resent (perpwatch_sink_retries_total, perpwatch_delivery_failures_total).",
            [
                ("sum by (table) (increase(perpwatch_sink_retries_total[1m]))", "{{table}} sink retries"),
                (
                    "sum by (service) (increase(perpwatch_delivery_failures_total[1m]))",
                    "{{service}} delivery failures",
                ),
            ],
        ),
        prom(
            "Offset commits per second",
            "Kafka offset commits after a durable sink commit (perpwatch_offset_commits_total).",
            "sum by (service) (rate(perpwatch_offset_commits_total[$__rate_interval]))",
            "{{service}}",
            "ops",
        ),
    ]
    freshness = "\nUNION ALL\n".join(
        f"SELECT '{table}' AS \"table\", count(*) AS rows, max(ts) AS newest, EXTRACT(EPOCH FROM now() - max(ts)) AS age_s\nFROM {table}\nWHERE $__timeFilter(ts)"
        for table in (
            "book_bbo",
            "market_trades",
            "liquidity_metrics",
            "arb_spreads",
            "candles",
            "venue_orders",
        )
    )
    panels.append(
        table(
            lay,
            "Data freshness by table",
            "Rows in the range and age of the newest row, per table: a stale table names the stalled service.",
            freshness,
            height=8,
        )
    )
    panels.append(
        table(
            lay,
            "Alerts",
            "Alert notifications of the alert service in the range, newest first: firing and resolved, with the rule, its labels and the value that crossed the threshold (alert_history).",
            'SELECT event_ts AS "time", status, severity, rule_name, labels::text AS labels, metric, condition, threshold, value,\n'
            "  starts_at, ends_at, reminder, suppressed, summary\nFROM alert_history\nWHERE $__timeFilter(event_ts)\n"
            "ORDER BY event_ts DESC\nLIMIT 200",
        )
    )
    variables = [prometheus_datasource_variable(), pg_datasource_variable()]
    return dashboard(
        "perpwatch-system",
        "perpwatch / system health",
        "Service health from Prometheus (scrape status, connector states, consumer lag, throughput, dead letters, sink latency), and data freshness and alert notifications from TimescaleDB.",
        ["system"],
        panels,
        variables,
        time_from="now-3h",
    )


DASHBOARDS = {
    "perpwatch-market.json": market,
    "perpwatch-arbitrage.json": arbitrage,
    "perpwatch-liquidity.json": liquidity,
    "perpwatch-flow.json": flow,
    "perpwatch-venue.json": venue,
    "perpwatch-system.json": system,
}


def rendered() -> Iterator[tuple[str, str]]:
    for name, build in DASHBOARDS.items():
        yield name, json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    for directory in OUTPUTS:
        directory.mkdir(parents=True, exist_ok=True)
        for stale in {p.name for p in directory.glob("*.json")} - set(DASHBOARDS):
            (directory / stale).unlink()
        for name, text in rendered():
            (directory / name).write_text(text)
    print(
        f"wrote {len(DASHBOARDS)} dashboards to " + ", ".join(str(d.relative_to(REPO_ROOT)) for d in OUTPUTS)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
