-- 0001_market_data, TimescaleDB companion: applied right after
-- 0001_market_data.sql, only when TimescaleDB is in use.
--
-- Runs statement by statement in autocommit. Splitting rule (README.md in this
-- folder): a statement ends at a line whose last non-blank character is `;`;
-- no `$$`, no `/*`, never two statements on one line.
-- Must stay idempotent: it is re-run after a half-finished run, and runs on
-- tables that already hold data when TimescaleDB arrives later.
--
-- Chunk intervals follow expected volume per chunk; compression segments by
-- (exchange, symbol) because every dashboard query filters on them. Policies:
--   table          chunk     compress after  retain
--   book_bbo       1 hour    1 day           30 days
--   market_trades  1 day     2 days          90 days
--   open_interest  1 day     7 days          365 days
--   liquidations   7 days    14 days         365 days
--   funding_rates  7 days    14 days         forever (tiny, long history is the point)
--   candles        7 days    14 days         forever (the long-term price history)
-- The base file already defines every index, so default indexes are off to
-- keep both paths identical.

SELECT create_hypertable('market_trades', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('book_bbo', by_range('ts', INTERVAL '1 hour'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('funding_rates', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('open_interest', by_range('ts', INTERVAL '1 day'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('liquidations', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);
SELECT create_hypertable('candles', by_range('ts', INTERVAL '7 days'),
    if_not_exists => true, migrate_data => true, create_default_indexes => false);

ALTER TABLE market_trades SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE book_bbo SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE funding_rates SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE open_interest SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE liquidations SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');
ALTER TABLE candles SET (timescaledb.compress,
    timescaledb.compress_segmentby = 'exchange, symbol', timescaledb.compress_orderby = 'ts DESC');

SELECT add_compression_policy('book_bbo', compress_after => INTERVAL '1 day', if_not_exists => true);
SELECT add_compression_policy('market_trades', compress_after => INTERVAL '2 days', if_not_exists => true);
SELECT add_compression_policy('open_interest', compress_after => INTERVAL '7 days', if_not_exists => true);
SELECT add_compression_policy('liquidations', compress_after => INTERVAL '14 days', if_not_exists => true);
SELECT add_compression_policy('funding_rates', compress_after => INTERVAL '14 days', if_not_exists => true);
SELECT add_compression_policy('candles', compress_after => INTERVAL '14 days', if_not_exists => true);

SELECT add_retention_policy('book_bbo', drop_after => INTERVAL '30 days', if_not_exists => true);
SELECT add_retention_policy('market_trades', drop_after => INTERVAL '90 days', if_not_exists => true);
SELECT add_retention_policy('open_interest', drop_after => INTERVAL '365 days', if_not_exists => true);
SELECT add_retention_policy('liquidations', drop_after => INTERVAL '365 days', if_not_exists => true);

-- One-minute OHLCV from trades: Grafana's price panels read this instead of
-- scanning raw trades. It outlives the 90-day trade retention (the refresh
-- window below never reaches dropped chunks). materialized_only = false adds
-- the not-yet-materialized tail from raw trades at query time.
CREATE MATERIALIZED VIEW IF NOT EXISTS trades_ohlcv_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       exchange,
       symbol,
       first(price, ts) AS open,
       max(price) AS high,
       min(price) AS low,
       last(price, ts) AS close,
       sum(quantity) AS volume,
       sum(notional) AS notional,
       count(*) AS trade_count
FROM market_trades
GROUP BY time_bucket(INTERVAL '1 minute', ts), exchange, symbol
WITH NO DATA;

-- Late data older than start_offset (replays, backfills) needs a manual
-- CALL refresh_continuous_aggregate('trades_ohlcv_1m', from, to).
SELECT add_continuous_aggregate_policy('trades_ohlcv_1m',
    start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute', if_not_exists => true);

-- One-minute spread summary: book_bbo is the largest table and is kept only
-- 30 days, so spread history beyond that exists only here.
CREATE MATERIALIZED VIEW IF NOT EXISTS book_spread_1m
    WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS
SELECT time_bucket(INTERVAL '1 minute', ts) AS bucket,
       exchange,
       symbol,
       avg((ask_price - bid_price) / nullif((ask_price + bid_price) / 2, 0) * 10000) AS avg_spread_bps,
       max((ask_price - bid_price) / nullif((ask_price + bid_price) / 2, 0) * 10000) AS max_spread_bps,
       last((bid_price + ask_price) / 2, ts) AS last_mid,
       count(*) AS updates
FROM book_bbo
GROUP BY time_bucket(INTERVAL '1 minute', ts), exchange, symbol
WITH NO DATA;

SELECT add_continuous_aggregate_policy('book_spread_1m',
    start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 minute',
    schedule_interval => INTERVAL '1 minute', if_not_exists => true);

COMMENT ON VIEW trades_ohlcv_1m IS
    'One-minute OHLCV per exchange and symbol from market_trades (prices in quote currency, volume in base units).';
COMMENT ON VIEW book_spread_1m IS
    'One-minute bid/ask spread in basis points of mid, and last mid price (quote currency), from book_bbo.';
