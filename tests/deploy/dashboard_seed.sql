-- Hand-written rows for the dashboard SQL test (tests/deploy/test_deploy_grafana.py), for what
-- a replay of the one-venue Binance capture (tests/deploy/dashboard_data.py) cannot produce:
-- a second venue, funding, open interest, liquidations, cross-venue arbitrage, a liquidity
-- crunch, spikes, alerts and matching-venue orders. They lie in the replay's window
-- (2024-08-08 23:54-23:59 UTC) and use its market, plus okx as a second venue and perpwatch
-- (the matching venue). Columns are named, so a renamed or dropped column fails here.

-- A second venue's top of book, for the cross-venue panels.
INSERT INTO book_bbo (ts, exchange, symbol, venue_seq, book_seq, bid_price, bid_qty, ask_price, ask_qty, receive_ts) VALUES
  ('2024-08-08 23:54:20+00', 'okx', 'BTC-USDT-PERP', 1, 1, 61640.1, 2, 61640.2, 1, '2024-08-08 23:54:20.05+00'),
  ('2024-08-08 23:55:20+00', 'okx', 'BTC-USDT-PERP', 2, 2, 61660.0, 1, 61660.1, 3, '2024-08-08 23:55:20.05+00');

INSERT INTO funding_rates (ts, exchange, symbol, rate, interval_s, next_funding_ts, mark_price, index_price, receive_ts) VALUES
  ('2024-08-08 23:54:30+00', 'binance_usdm', 'BTC-USDT-PERP', 0.0001, 28800, '2024-08-09 00:00:00+00', 61650, 61640, '2024-08-08 23:54:30.1+00'),
  ('2024-08-08 23:55:30+00', 'binance_usdm', 'BTC-USDT-PERP', 0.00012, 28800, '2024-08-09 00:00:00+00', 61660, 61655, '2024-08-08 23:55:30.1+00');

INSERT INTO open_interest (ts, exchange, symbol, open_interest, open_interest_notional, receive_ts) VALUES
  ('2024-08-08 23:54:30+00', 'binance_usdm', 'BTC-USDT-PERP', 80000, 4932000000, '2024-08-08 23:54:30.1+00'),
  ('2024-08-08 23:55:30+00', 'binance_usdm', 'BTC-USDT-PERP', 80250, 4947000000, '2024-08-08 23:55:30.1+00');

INSERT INTO liquidations (ts, exchange, symbol, side, price, quantity, notional, receive_ts) VALUES
  ('2024-08-08 23:54:40+00', 'binance_usdm', 'BTC-USDT-PERP', 'sell', 61600, 0.5, 30800, '2024-08-08 23:54:40.1+00'),
  ('2024-08-08 23:55:05+00', 'binance_usdm', 'BTC-USDT-PERP', 'buy', 61700, 1.2, 74040, '2024-08-08 23:55:05.1+00');

INSERT INTO arb_spreads (ts, symbol, buy_exchange, sell_exchange, sell_symbol, gross_spread_bps, mid, notionals, executable_bps,
                         buy_funding_apr, sell_funding_apr, funding_differential_apr, buy_basis, sell_basis, guard) VALUES
  ('2024-08-08 23:54:20+00', 'BTC-USDT-PERP', 'binance_usdm', 'okx', 'BTC-USDT-PERP', 3.2, 61645, '{10000,100000}', '{-4.1,-6.0}', 0.11, 0.16, 0.05, 1.2, 0.8, ''),
  ('2024-08-08 23:55:20+00', 'BTC-USDT-PERP', 'okx', 'binance_usdm', 'BTC-USDT-PERP', 12.5, 61662, '{10000,100000}', '{4.5,1.1}', 0.16, 0.11, -0.05, 0.8, 1.2, '');

INSERT INTO arb_opportunities (ts, opportunity_id, seq, event, kind, symbol, buy_exchange, sell_exchange, sell_symbol, buy_quote, sell_quote,
                               first_seen_ts, opened_ts, closed_ts, duration_ms, value_bps, peak_bps, peak_ts, notional, gross_spread_bps,
                               notionals, executable_bps, funding_differential_apr, buy_fee_bps, sell_fee_bps, reason) VALUES
  ('2024-08-08 23:55:20+00', 'spread:BTC-USDT-PERP:okx:binance_usdm:1', 0, 'opened', 'spread', 'BTC-USDT-PERP', 'okx', 'binance_usdm', 'BTC-USDT-PERP', 'USDT', 'USDT',
   '2024-08-08 23:55:19+00', '2024-08-08 23:55:20+00', NULL, NULL, 4.5, 4.5, '2024-08-08 23:55:20+00', 10000, 12.5, '{10000,100000}', '{4.5,1.1}', NULL, 5, 3, ''),
  ('2024-08-08 23:55:40+00', 'spread:BTC-USDT-PERP:okx:binance_usdm:2', 0, 'opened', 'spread', 'BTC-USDT-PERP', 'okx', 'binance_usdm', 'BTC-USDT-PERP', 'USDT', 'USDT',
   '2024-08-08 23:55:39+00', '2024-08-08 23:55:40+00', NULL, NULL, 3.0, 3.0, '2024-08-08 23:55:40+00', 10000, 11.0, '{10000,100000}', '{3.0,0.2}', NULL, 5, 3, ''),
  ('2024-08-08 23:55:50+00', 'spread:BTC-USDT-PERP:okx:binance_usdm:2', 1, 'closed', 'spread', 'BTC-USDT-PERP', 'okx', 'binance_usdm', 'BTC-USDT-PERP', 'USDT', 'USDT',
   '2024-08-08 23:55:39+00', '2024-08-08 23:55:40+00', '2024-08-08 23:55:50+00', 10000, 0.5, 3.0, '2024-08-08 23:55:40+00', 10000, 8.5, '{10000,100000}', '{0.5,-1.0}', NULL, 5, 3, 'below_close_threshold');

INSERT INTO liquidity_anomalies (ts, exchange, symbol, phase, crunch_id, started_ts, ended_ts, duration_s, severity, severity_score,
  peak_spread_z, peak_depth_z, samples, k, band_bps, sustain, end_after, evidence, receive_ts) VALUES
  ('2024-08-08 23:55:10+00', 'binance_usdm', 'BTC-USDT-PERP', 'started', 'binance_usdm:BTC-USDT-PERP:1', '2024-08-08 23:55:10+00', NULL, NULL,
   'high', 7.5, 4.5, -3.9, 5, 3, 25, 5, 10, '{"spread_bps": 2.0}', '2024-08-08 23:55:10.1+00'),
  ('2024-08-08 23:55:50+00', 'binance_usdm', 'BTC-USDT-PERP', 'ended', 'binance_usdm:BTC-USDT-PERP:1', '2024-08-08 23:55:10+00', '2024-08-08 23:55:50+00', 40,
   'high', 7.5, 4.5, -3.9, 60, 3, 25, 5, 10, '{"spread_bps": 0.02}', '2024-08-08 23:55:50.1+00');

INSERT INTO analytics_spikes (ts, exchange, symbol, timeframe_s, metric, value, baseline_mean, baseline_std, z, threshold, window_bars, receive_ts) VALUES
  ('2024-08-08 23:55:00+00', 'binance_usdm', 'BTC-USDT-PERP', 300, 'log_volume', 6.2, 4.1, 0.5, 4.2, 3.0, 48, '2024-08-08 23:55:00.1+00'),
  ('2024-08-08 23:55:00+00', 'binance_usdm', 'BTC-USDT-PERP', 300, 'oi_change', 0.012, 0.0, 0.003, 4.0, 3.0, 48, '2024-08-08 23:55:00.1+00');

INSERT INTO venue_orders (ts, exchange, symbol, seq, account, client_order_id, order_id, status, side, order_type, tif, price, stop_price,
                          quantity, filled_quantity, remaining_quantity, cancelled_quantity, request, reason) VALUES
  ('2024-08-08 23:54:30+00', 'perpwatch', 'BTC-USDT-PERP', 1, 'alice', 'a1', 1, 'accepted', 'buy', 'limit', 'gtc', 61600, NULL, 2, 0, 2, 0, 'new', NULL),
  ('2024-08-08 23:54:31+00', 'perpwatch', 'BTC-USDT-PERP', 2, 'bob', 'b1', 2, 'accepted', 'sell', 'limit', 'gtc', 61700, NULL, 1, 0, 1, 0, 'new', NULL),
  ('2024-08-08 23:54:40+00', 'perpwatch', 'BTC-USDT-PERP', 3, 'carol', 'c1', 3, 'accepted', 'sell', 'market', 'ioc', NULL, NULL, 0.5, 0, 0.5, 0, 'new', NULL),
  ('2024-08-08 23:54:40+00', 'perpwatch', 'BTC-USDT-PERP', 4, 'alice', 'a1', 1, 'partially_filled', 'buy', 'limit', 'gtc', 61600, NULL, 2, 0.5, 1.5, 0, NULL, NULL),
  ('2024-08-08 23:54:40+00', 'perpwatch', 'BTC-USDT-PERP', 5, 'carol', 'c1', 3, 'filled', 'sell', 'market', 'ioc', NULL, NULL, 0.5, 0.5, 0, 0, NULL, NULL),
  ('2024-08-08 23:55:10+00', 'perpwatch', 'BTC-USDT-PERP', 6, 'dave', 'd1', NULL, 'rejected', 'buy', 'limit', 'gtc', 1, NULL, 1, 0, 0, 0, 'new', 'price_band');

INSERT INTO venue_trades (ts, exchange, symbol, trade_id, seq, price, quantity, aggressor_side, maker_order_id, taker_order_id,
                          maker_account, taker_account, maker_fee, taker_fee) VALUES
  ('2024-08-08 23:54:40+00', 'perpwatch', 'BTC-USDT-PERP', 1, 4, 61600, 0.5, 'sell', '1', '3', 'alice', 'carol', 3.08, 15.4);

INSERT INTO alert_history (idempotency_key, fingerprint, status, rule_id, rule_name, severity, labels, metric, condition, threshold, value,
                           starts_at, ends_at, event_ts, starts_at_ns, event_ts_ns, reminder, summary, reason, suppressed,
                           source_topic, source_partition, source_offset) VALUES
  ('k1', 'f1', 'firing', 'r1', 'BTC volume spike', 'warning', '{"exchange": "binance_usdm", "symbol": "BTC-USDT-PERP"}', 'z', '>', 3, 4.2,
   '2024-08-08 23:55:00+00', NULL, '2024-08-08 23:55:00+00', 1723161300000000000, 1723161300000000000, 0,
   'log_volume z 4.2 > 3 on binance_usdm BTC-USDT-PERP', 'threshold crossed', '', 'analytics.spikes.v1', 0, 1);
