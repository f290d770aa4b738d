-- 0010_arbitrage, TimescaleDB companion: applied right after
-- 0010_arbitrage.sql, only when TimescaleDB is in use.
--
-- Runs statement by statement in autocommit (splitting rule: README.md in this
-- folder); must stay idempotent. Opportunities are rare and their history is
-- the point (a week per chunk, kept a year); sampled spreads are many (one row
-- per ordered pair per sampling interval), so a day per chunk, kept 30 days.
-- Compression segments by the pair, which every chart filters on.

SELECT create_hypertable('arb_opportunities', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

SELECT create_hypertable('arb_spreads', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE arb_opportunities SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, buy_exchange, sell_exchange', timescaledb.compress_orderby = 'ts DESC');

ALTER TABLE arb_spreads SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'symbol, buy_exchange, sell_exchange', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('arb_opportunities', compress_after => INTERVAL '14 days', if_not_exists => true);

SELECT add_compression_policy('arb_spreads', compress_after => INTERVAL '2 days', if_not_exists => true);

SELECT add_retention_policy('arb_opportunities', drop_after => INTERVAL '365 days', if_not_exists => true);

SELECT add_retention_policy('arb_spreads', drop_after => INTERVAL '30 days', if_not_exists => true);
