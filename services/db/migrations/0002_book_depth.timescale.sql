-- 0002_book_depth, TimescaleDB companion: applied right after
-- 0002_book_depth.sql, only when TimescaleDB is in use.
--
-- Runs statement by statement in autocommit (splitting rule: README.md in this
-- folder); must stay idempotent. Depth rows are wide (up to 4 x 50 numerics),
-- so chunks are an hour, compressed after a day and kept a week; compression
-- segments by (exchange, symbol) like every other table.

SELECT create_hypertable('book_depth', by_range('ts', INTERVAL '1 hour'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE book_depth SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('book_depth', compress_after => INTERVAL '1 day', if_not_exists => true);

SELECT add_retention_policy('book_depth', drop_after => INTERVAL '7 days', if_not_exists => true);
