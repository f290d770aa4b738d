-- 0003_venue, TimescaleDB companion: applied right after 0003_venue.sql, only
-- when TimescaleDB is in use.
--
-- Runs statement by statement in autocommit (splitting rule: README.md in this
-- folder); must stay idempotent. Venue activity is far smaller than market
-- data: day chunks, compressed after a week, kept a year (an audit trail).

SELECT create_hypertable('venue_orders', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('venue_trades', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE venue_orders SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE venue_trades SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('venue_orders', compress_after => INTERVAL '7 days', if_not_exists => true);
SELECT add_compression_policy('venue_trades', compress_after => INTERVAL '7 days', if_not_exists => true);

SELECT add_retention_policy('venue_orders', drop_after => INTERVAL '365 days', if_not_exists => true);
SELECT add_retention_policy('venue_trades', drop_after => INTERVAL '365 days', if_not_exists => true);
