"""The exchange simulator: local venues that speak each venue's real protocol, for tests and demos.

``perpwatch simulate`` (or ``Simulator`` in-process) serves, on 127.0.0.1 only, per venue a
WebSocket endpoint and a REST endpoint at the paths of the real venue, plus one control
endpoint. The real connectors run against it unchanged; only their base URLs differ
(``Simulator.connector_options(exchange)`` or the endpoints JSON ``perpwatch simulate`` prints).

Layers:

- ``model.py``: the venue-neutral market, pure and seeded. Correlated fair prices, a basis per
  venue, books on each venue's tick/lot grid with sequence ids, trades, funding, open interest,
  liquidations; faults (dislocation, liquidity crunch, liquidation burst, funding divergence,
  sequence gap) and transport faults (disconnect, stall, REST rate limit) on demand
  (``Simulator.inject`` / ``POST /faults``) or at random (``ModelConfig.fault_rate_per_min``).
- ``services/venues/<exchange>/dialect.py``: one small module per venue rendering model events as that
  venue's frames and answering its client frames (subscribe, ping) and REST calls.
- ``server.py``: sockets, the market clock, fault plumbing, and exact accounting of what was
  sent (``SimulatorStats.sent_events``), so tests can prove a consumer lost nothing.
- ``history.py``: the venues' history endpoints (klines, funding, open interest) for the
  backfill, with each venue's pagination and page limits, from a deterministic path anchored on
  the model's first prices; asked before the dialect's ``rest``.

A venue's dialect is one file of its package, ``services/venues/<exchange>/dialect.py``, named
in the package's ``VenueParts`` (``dialect="dialect:MyDialect"``):

1. subclass ``services.simulator.dialect.BaseDialect`` and set ``exchange``;
2. ``on_message(session, text, now_ns)``: parse a client frame; add the venue's topic names to
   ``session.topics``; return the acks/pongs (``self.reply(...)``) and any snapshot frames the
   venue pushes on subscription (``self.frame(..., topic, channel, native_symbol)``);
3. ``render(event)``: for each model event (``BookChange``, ``TopOfBook``, ``TradePrint``,
   ``FundingPrint``, ``OpenInterestPrint``, ``LiquidationPrint``), the frames it becomes, each
   tagged with the topic a session subscribes to and the events it carries (``carries``);
4. ``rest(request, now_ns)``: instruments, book snapshots, connection tokens, as the venue
   serves them (``self.book_view`` gives the model's book with its sequence id and its count of
   level changes; ``request.body`` holds a JSON body);
5. optionally ``open_session`` (streams named in the URL, a welcome or Engine.IO open packet, a
   token check) and ``heartbeat(session, now_ns)``, called every market tick, for what the venue
   sends on its own clock (server pings, heartbeats) or to drop a silent client (a reply with
   empty ``text`` and a ``close_code`` closes the connection without a last frame).

Model events carry what the venue formats need: ``BookChange.first/last/prev`` (Binance, Gate.io,
OKX, Deribit, Bitget), ``update_no`` (consecutive: Bybit, MEXC), ``level_changes_before``
(one sequence per level change: KuCoin), ``added_bids/added_asks`` (BitMEX insert vs update,
Deribit new vs change) and ``TradePrint.forced`` (liquidations flagged on the trade: Deribit).
``SimulatorConfig.symbols`` applies to every venue; one that lacks a symbol lists its perpetual
on the same base (``grids_for``: BTC-USD-PERP on Deribit and COIN-M, BTC-USDC-PERP on Hyperliquid).

The venue's package also has its adapter and instrument snapshot: the simulator takes the
WebSocket path from the adapter's ``ws_url`` and the tick/lot grid from the snapshot.
``tests/ingest/test_simulator_dialects.py`` then checks the new dialect against the
venue's real parser automatically.
"""
