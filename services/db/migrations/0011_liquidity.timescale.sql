-- 0011_liquidity, TimescaleDB companion: applied right after 0011_liquidity.sql,
-- only when TimescaleDB is in use.
--
-- Runs statement by statement in autocommit (splitting rule: README.md in this
-- folder); must stay idempotent. Metric samples are one row per book per
-- second: day chunks, compressed after two days, kept 30 days. Anomalies are
-- rare: month chunks, kept a year.

SELECT create_hypertable('liquidity_metrics', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE liquidity_metrics SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('liquidity_metrics', compress_after => INTERVAL '2 days', if_not_exists => true);

SELECT add_retention_policy('liquidity_metrics', drop_after => INTERVAL '30 days', if_not_exists => true);

SELECT create_hypertable('liquidity_anomalies', by_range('ts', INTERVAL '30 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

SELECT add_retention_policy('liquidity_anomalies', drop_after => INTERVAL '365 days', if_not_exists => true);
