-- 0012_analytics, TimescaleDB companion: applied right after
-- 0012_analytics.sql, only when TimescaleDB is in use. Statement by statement
-- in autocommit; idempotent (rules: README.md in this folder).
--
--   table                    chunk    compress after  retain
--   analytics_spikes         30 days  60 days         forever (rare rows)
--   analytics_flow_windows   7 days   14 days         365 days
--   analytics_large_trades   7 days   14 days         365 days
--   analytics_checkpoints    1 day    -               7 days (restart state; like md.trades.v1)
-- analytics_pairs stays a plain table: one row per configured pair and bar.

SELECT create_hypertable('analytics_spikes', by_range('ts', INTERVAL '30 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('analytics_flow_windows', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('analytics_large_trades', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('analytics_checkpoints', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE analytics_flow_windows SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE analytics_large_trades SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE analytics_spikes SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('analytics_flow_windows', compress_after => INTERVAL '14 days', if_not_exists => true);
SELECT add_compression_policy('analytics_large_trades', compress_after => INTERVAL '14 days', if_not_exists => true);
SELECT add_compression_policy('analytics_spikes', compress_after => INTERVAL '60 days', if_not_exists => true);

SELECT add_retention_policy('analytics_flow_windows', drop_after => INTERVAL '365 days', if_not_exists => true);
SELECT add_retention_policy('analytics_large_trades', drop_after => INTERVAL '365 days', if_not_exists => true);
-- Restart state older than the input topics' retention can never be replayed from.
SELECT add_retention_policy('analytics_checkpoints', drop_after => INTERVAL '7 days', if_not_exists => true);

-- 1 h and 1 d bars roll up from the service's final 5 m bars (interval_s = 300),
-- which are continuous (empty intervals carry the previous close), so first/last
-- by time give the right open and close. materialized_only = false adds the
-- not-yet-materialized tail at query time.
CREATE MATERIALIZED VIEW IF NOT EXISTS candles_1h
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 hour', ts) AS bucket,
       exchange,
       symbol,
       first(open, ts) AS open,
       max(high) AS high,
       min(low) AS low,
       last(close, ts) AS close,
       sum(volume) AS volume,
       sum(notional) AS notional,
       sum(trade_count) AS trade_count,
       sum(buy_volume) AS buy_volume,
       sum(sell_volume) AS sell_volume
FROM candles
WHERE interval_s = 300
GROUP BY time_bucket(INTERVAL '1 hour', ts), exchange, symbol
WITH NO DATA;

SELECT add_continuous_aggregate_policy('candles_1h',
    start_offset => INTERVAL '3 days', end_offset => INTERVAL '1 hour',
    schedule_interval => INTERVAL '15 minutes', if_not_exists => true);

CREATE MATERIALIZED VIEW IF NOT EXISTS candles_1d
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 day', ts) AS bucket,
       exchange,
       symbol,
       first(open, ts) AS open,
       max(high) AS high,
       min(low) AS low,
       last(close, ts) AS close,
       sum(volume) AS volume,
       sum(notional) AS notional,
       sum(trade_count) AS trade_count,
       sum(buy_volume) AS buy_volume,
       sum(sell_volume) AS sell_volume
FROM candles
WHERE interval_s = 300
GROUP BY time_bucket(INTERVAL '1 day', ts), exchange, symbol
WITH NO DATA;

SELECT add_continuous_aggregate_policy('candles_1d',
    start_offset => INTERVAL '30 days', end_offset => INTERVAL '1 day',
    schedule_interval => INTERVAL '1 hour', if_not_exists => true);

COMMENT ON VIEW candles_1h IS
    'One-hour OHLCV per exchange and symbol, rolled up from the analytics service''s 5-minute candles.';
COMMENT ON VIEW candles_1d IS
    'One-day OHLCV per exchange and symbol, rolled up from the analytics service''s 5-minute candles.';
