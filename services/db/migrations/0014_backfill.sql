-- 0014_backfill: history fetched from the venues' REST APIs (services/backfill).
--
-- Base file: plain PostgreSQL, one transaction (rules: README.md in this folder).

-- Where a bar comes from: 'trades' (built by the analytics service from md.trades.v1)
-- or 'venue' (the venue's own kline, written by the backfill). Both share the natural
-- key (exchange, symbol, interval_s, ts): whichever is written first is kept
-- (ON CONFLICT DO NOTHING), and this column says which one it was. No CHECK constraint:
-- TimescaleDB cannot add one to a compressed hypertable; md.candles.v1 validates the value.
ALTER TABLE candles ADD COLUMN source text NOT NULL DEFAULT 'trades';
COMMENT ON COLUMN candles.source IS 'trades: built from md.trades.v1; venue: the venue''s kline, fetched by the backfill.';

-- What the backfill has fetched: one row per completed page, written in the same
-- transaction as the page's rows, so a rerun (even after kill -9) fetches only the
-- windows no row covers. [start_ts, end_ts) is the window the venue answered in full.
CREATE TABLE backfill_coverage (
    exchange    text        NOT NULL,
    symbol      text        NOT NULL,
    what        text        NOT NULL CHECK (what IN ('klines', 'funding', 'oi')),
    interval_s  integer     NOT NULL CHECK (interval_s >= 0),
    start_ts    timestamptz NOT NULL,
    end_ts      timestamptz NOT NULL CHECK (end_ts > start_ts),
    records     integer     NOT NULL CHECK (records >= 0),
    fetched_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT backfill_coverage_pkey PRIMARY KEY (exchange, symbol, what, interval_s, start_ts)
);
COMMENT ON TABLE backfill_coverage IS 'Windows of venue history the backfill fetched completely (resume and reconciliation).';
COMMENT ON COLUMN backfill_coverage.interval_s IS 'Bar length (klines), OI period (oi); 0 for funding.';
