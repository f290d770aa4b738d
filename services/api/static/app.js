// perpwatch dashboard: REST for the first picture, then the /v1/ws WebSocket for every update.
// Plain browser JavaScript, no build step. Text from the API is only ever set as textContent.
"use strict";

const INTERVAL_S = { "1s": 1, "1m": 60, "5m": 300 };
const params = new URLSearchParams(location.search);
const state = {
  symbol: params.get("symbol") || "",
  chartExchange: params.get("exchange") || "",
  interval: params.get("interval") in INTERVAL_S ? params.get("interval") : "1m",
  quotes: new Map(), // exchange -> {bid, bidQty, ask, askQty, ms}
  opportunities: new Map(), // opportunity_id -> row
  liquidity: new Map(), // exchange -> row
  status: new Map(), // exchange -> {state, detail, ms}
  candles: 0,
  socket: null,
};
const $ = (id) => document.getElementById(id);

function toMs(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return value / 1e6; // integer ns on the topics
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

function age(ms) {
  if (ms === null) return "";
  const s = Math.max(0, (Date.now() - ms) / 1000);
  if (s < 60) return `${s.toFixed(0)}s`;
  if (s < 3600) return `${(s / 60).toFixed(0)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

function num(value, digits = 2) {
  if (value === null || value === undefined || value === "") return "";
  const n = Number(value);
  if (!Number.isFinite(n)) return String(value);
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(digits);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text;
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function fillTable(id, rows) {
  const body = $(id).querySelector("tbody");
  body.replaceChildren(...rows);
}

async function getJson(path) {
  const answer = await fetch(path, { headers: { Accept: "application/json" } });
  if (!answer.ok) throw new Error(`${path}: ${answer.status}`);
  return answer.json();
}

// ---- prices -----------------------------------------------------------------------------
function renderPrices() {
  const entries = [...state.quotes.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  let bestBid = null;
  let bestAsk = null;
  for (const [exchange, q] of entries) {
    if (bestBid === null || Number(q.bid) > Number(state.quotes.get(bestBid).bid)) bestBid = exchange;
    if (bestAsk === null || Number(q.ask) < Number(state.quotes.get(bestAsk).ask)) bestAsk = exchange;
  }
  fillTable("prices", entries.map(([exchange, q]) => {
    const tr = document.createElement("tr");
    tr.dataset.exchange = exchange;
    cell(tr, exchange);
    cell(tr, q.bid, exchange === bestBid ? "best-bid" : "");
    cell(tr, num(q.bidQty, 3));
    cell(tr, q.ask, exchange === bestAsk ? "best-ask" : "");
    cell(tr, num(q.askQty, 3));
    const mid = (Number(q.bid) + Number(q.ask)) / 2;
    cell(tr, mid > 0 ? ((Number(q.ask) - Number(q.bid)) / mid * 1e4).toFixed(2) : "");
    cell(tr, age(q.ms));
    return tr;
  }));
  if (bestBid !== null) {
    const bid = Number(state.quotes.get(bestBid).bid);
    const ask = Number(state.quotes.get(bestAsk).ask);
    const bps = ((ask - bid) / ((ask + bid) / 2)) * 1e4;
    $("best-summary").textContent =
      `best bid ${bid} (${bestBid}) · best ask ${ask} (${bestAsk}) · ${bps.toFixed(2)} bps · ${entries.length} venues`;
  } else {
    $("best-summary").textContent = "no quotes yet";
  }
  refreshChartVenues();
}

function applyQuote(event) {
  if (event.symbol !== state.symbol) return;
  state.quotes.set(event.exchange, {
    bid: event.bid_price,
    bidQty: event.bid_quantity ?? event.bid_qty,
    ask: event.ask_price,
    askQty: event.ask_quantity ?? event.ask_qty,
    ms: toMs(event.exchange_ts ?? event.ts),
  });
}

async function loadPrices() {
  const page = await getJson(`/v1/prices?limit=1000`);
  const symbols = [...new Set(page.items.map((q) => q.symbol))].sort();
  if (!state.symbol) state.symbol = symbols.includes("BTC-USDT-PERP") ? "BTC-USDT-PERP" : symbols[0] || "BTC-USDT-PERP";
  if (!symbols.includes(state.symbol)) symbols.push(state.symbol);
  const select = $("symbol");
  select.replaceChildren(...symbols.map((s) => new Option(s, s, false, s === state.symbol)));
  state.quotes.clear();
  for (const quote of page.items) applyQuote(quote);
  renderPrices();
}

// ---- chart ------------------------------------------------------------------------------
const MIN_BAR_SPACING_PX = 6; // lightweight-charts' default barSpacing
const chart = LightweightCharts.createChart($("chart"), {
  autoSize: true,
  layout: { background: { color: "#161d26" }, textColor: "#d6dde6" },
  grid: { vertLines: { color: "#253140" }, horzLines: { color: "#253140" } },
  timeScale: { timeVisible: true, secondsVisible: true },
});
const candleSeries = chart.addCandlestickSeries();
const volumeSeries = chart.addHistogramSeries({ priceFormat: { type: "volume" }, priceScaleId: "" });
volumeSeries.priceScale().applyOptions({ scaleMargins: { top: 0.8, bottom: 0 } });

function bar(candle) {
  const time = Math.floor(toMs(candle.exchange_ts ?? candle.ts) / 1000);
  const up = Number(candle.close) >= Number(candle.open);
  return {
    candle: { time, open: Number(candle.open), high: Number(candle.high), low: Number(candle.low), close: Number(candle.close) },
    volume: { time, value: Number(candle.volume), color: up ? "rgba(38,166,154,0.5)" : "rgba(239,83,80,0.5)" },
  };
}

function refreshChartVenues() {
  const select = $("chart-exchange");
  const venues = [...state.quotes.keys()].sort();
  if (!state.chartExchange && venues.length) {
    state.chartExchange = venues.includes("binance_usdm") ? "binance_usdm" : venues[0];
    loadCandles();
  }
  if (state.chartExchange && !venues.includes(state.chartExchange)) venues.push(state.chartExchange);
  const current = [...select.options].map((o) => o.value).join(",");
  if (current !== venues.join(",")) {
    select.replaceChildren(...venues.map((v) => new Option(v, v, false, v === state.chartExchange)));
  }
}

async function loadCandles() {
  if (!state.chartExchange || !state.symbol) return;
  const path = `/v1/ohlc/${state.chartExchange}/${state.symbol}/${state.interval}?limit=500`;
  $("chart-title").textContent = `${state.chartExchange} ${state.symbol} ${state.interval}`;
  let items = [];
  try {
    items = (await getJson(path)).items.reverse();
  } catch (error) {
    console.warn(error);
  }
  const bars = items.map(bar);
  candleSeries.setData(bars.map((b) => b.candle));
  volumeSeries.setData(bars.map((b) => b.volume));
  chart.timeScale().fitContent();
  state.candles = bars.length;
  document.body.dataset.candles = String(state.candles);
}

function applyCandle(event) {
  if (event.exchange !== state.chartExchange || event.symbol !== state.symbol) return;
  if (event.interval_s !== INTERVAL_S[state.interval]) return;
  const b = bar(event);
  try {
    candleSeries.update(b.candle);
    volumeSeries.update(b.volume);
    state.candles += 1;
    // Fit while the bars at the default spacing would not fill the panel; after that the chart
    // scrolls with new bars and keeps what the user zoomed to.
    if (state.candles * MIN_BAR_SPACING_PX < $("chart").clientWidth) chart.timeScale().fitContent();
    document.body.dataset.candles = String(state.candles);
  } catch (error) {
    // an older bar than the last one shown: the chart only appends or replaces the last
  }
}

// ---- arbitrage --------------------------------------------------------------------------
function applyOpportunity(event) {
  const row = {
    id: event.opportunity_id,
    symbol: event.symbol,
    buy: event.buy_exchange ?? event.buy?.exchange,
    sell: event.sell_exchange ?? event.sell?.exchange,
    value: event.value_bps,
    peak: event.peak_bps,
    kind: event.kind,
    opened: toMs(event.opened_ts),
  };
  if (event.event === "closed") state.opportunities.delete(row.id);
  else state.opportunities.set(row.id, row);
}

function renderArbitrage() {
  const rows = [...state.opportunities.values()].sort((a, b) => Number(b.value) - Number(a.value)).slice(0, 50);
  fillTable("arbitrage", rows.map((o) => {
    const tr = document.createElement("tr");
    cell(tr, o.symbol);
    cell(tr, o.buy);
    cell(tr, o.sell);
    // One column, two measures: a spread's edge is bps net of fees now; funding's is bps a year.
    const unit = o.kind === "funding" ? " bps APR" : " bps net";
    cell(tr, num(o.value) + unit);
    cell(tr, num(o.peak) + unit);
    cell(tr, o.kind);
    cell(tr, age(o.opened));
    return tr;
  }));
}

async function loadArbitrage() {
  const page = await getJson("/v1/arbitrage/opportunities?state=open&limit=200");
  state.opportunities.clear();
  for (const item of page.items) applyOpportunity(item);
  renderArbitrage();
}

// ---- liquidity --------------------------------------------------------------------------
function band(row, bps) {
  const bands = row.depth ?? row.bands ?? [];
  return bands.find((b) => b.bps === bps) || {};
}

function applyLiquidity(event) {
  if (event.symbol !== state.symbol) return;
  state.liquidity.set(event.exchange, event);
}

function renderLiquidity() {
  const rows = [...state.liquidity.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  fillTable("liquidity", rows.map(([exchange, m]) => {
    const tr = document.createElement("tr");
    cell(tr, exchange);
    cell(tr, num(m.spread_bps, 3));
    cell(tr, num(band(m, 10).bid_notional));
    cell(tr, num(band(m, 10).ask_notional));
    cell(tr, num(band(m, 50).bid_notional));
    cell(tr, num(band(m, 50).ask_notional));
    cell(tr, num(m.imbalance, 2));
    cell(tr, m.crunch_active ? "CRUNCH" : "", m.crunch_active ? "crunch" : "");
    return tr;
  }));
}

function addListItem(id, text, className, max = 50) {
  const li = document.createElement("li");
  li.textContent = text;
  if (className) li.className = className;
  const list = $(id);
  list.prepend(li);
  while (list.children.length > max) list.lastChild.remove();
}

function anomalyText(a) {
  const when = new Date(toMs(a.ts ?? a.exchange_ts) ?? Date.now()).toISOString().slice(11, 19);
  return `${when} ${a.exchange} ${a.symbol} crunch ${a.phase} · ${a.severity}`;
}

async function loadLiquidity() {
  state.liquidity.clear();
  const venues = [...state.quotes.keys()];
  await Promise.all(venues.map(async (exchange) => {
    try {
      const page = await getJson(`/v1/liquidity/${exchange}/${state.symbol}?limit=1`);
      if (page.items.length) state.liquidity.set(exchange, page.items[0]);
    } catch (error) {
      console.warn(error);
    }
  }));
  renderLiquidity();
  const anomalies = await getJson("/v1/liquidity/anomalies?limit=20");
  $("anomalies").replaceChildren();
  for (const a of anomalies.items.reverse()) addListItem("anomalies", anomalyText(a), a.phase === "started" ? "crunch" : "");
}

// ---- alerts and status ------------------------------------------------------------------
function alertText(a) {
  const when = new Date(toMs(a.ts ?? a.event_ts) ?? Date.now()).toISOString().slice(11, 19);
  return `${when} [${a.severity}] ${a.status}: ${a.summary}`;
}

async function loadAlerts() {
  const page = await getJson("/v1/alerts?limit=30");
  $("alerts").replaceChildren();
  for (const a of page.items.reverse()) addListItem("alerts", alertText(a), a.status);
}

function renderStatus() {
  const rows = [...state.status.entries()].sort((a, b) => a[0].localeCompare(b[0]));
  fillTable("status", rows.map(([exchange, s]) => {
    const tr = document.createElement("tr");
    cell(tr, exchange);
    cell(tr, s.state || "no report", s.state ? `state-${s.state}` : "");
    cell(tr, age(s.ms));
    cell(tr, s.detail || "");
    return tr;
  }));
}

async function loadStatus() {
  const page = await getJson("/v1/exchanges?limit=100");
  for (const e of page.items) {
    const s = e.status;
    state.status.set(e.exchange, s ? { state: s.state, detail: s.detail, ms: toMs(s.ts) } : {});
  }
  renderStatus();
}

// ---- live -------------------------------------------------------------------------------
const HANDLERS = {
  "book.bbo.v1": applyQuote,
  "md.candles.v1": applyCandle,
  "arb.opportunities.v1": applyOpportunity,
  "liquidity.metrics.v1": applyLiquidity,
  "liquidity.anomalies.v1": (a) => addListItem("anomalies", anomalyText(a), a.phase === "started" ? "crunch" : ""),
  "alerts.v1": (a) => addListItem("alerts", alertText(a), a.status),
  "md.status.v1": (s) => state.status.set(s.exchange, { state: s.state, detail: s.detail, ms: toMs(s.ts) }),
};
let dirty = false;
let dropped = 0;

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/v1/ws`);
  state.socket = socket;
  socket.onopen = () => { $("live").textContent = "live"; $("live").className = "badge on"; };
  socket.onclose = () => {
    $("live").textContent = "reconnecting";
    $("live").className = "badge off";
    setTimeout(connect, 2000);
  };
  socket.onmessage = (message) => {
    const data = JSON.parse(message.data);
    if (!data.topic) return;
    dropped = data.dropped;
    const handler = HANDLERS[data.topic];
    if (handler) { handler(data.event); dirty = true; }
  };
}

function renderAll() {
  if (dirty) {
    renderPrices();
    renderArbitrage();
    renderLiquidity();
    renderStatus();
    dirty = false;
  } else {
    renderPrices(); // ages move on
  }
  $("live").title = `WebSocket to /v1/ws; messages dropped for this page: ${dropped}`;
}

async function reloadSymbol() {
  state.quotes.clear();
  await loadPrices().catch(console.warn);
  await Promise.all([loadCandles(), loadLiquidity().catch(console.warn)]);
}

$("symbol").addEventListener("change", (e) => { state.symbol = e.target.value; state.chartExchange = ""; reloadSymbol(); });
$("chart-exchange").addEventListener("change", (e) => { state.chartExchange = e.target.value; loadCandles(); });
$("interval").addEventListener("change", (e) => { state.interval = e.target.value; loadCandles(); });

async function start() {
  $("interval").value = state.interval;
  await reloadSymbol();
  await Promise.all([loadArbitrage(), loadAlerts(), loadStatus()].map((p) => p.catch(console.warn)));
  connect();
  setInterval(renderAll, 1000);
  // REST again now and then: what the WebSocket missed while disconnected comes back.
  setInterval(() => {
    loadArbitrage().catch(console.warn);
    loadStatus().catch(console.warn);
    if (!state.candles) loadCandles();
  }, 30000);
}

start();
