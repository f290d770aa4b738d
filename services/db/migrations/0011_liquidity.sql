-- 0011_liquidity: book liquidity samples and liquidity crunches, written by the liquidity service.
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). TimescaleDB-only DDL lives in
-- 0011_liquidity.timescale.sql. Conventions as in 0001_market_data.sql.
--
-- liquidity_metrics: one row per liquidity.metrics.v1 sample, i.e. per book per
-- second of venue event time by default. `ts` is the exchange_ts of the
-- book.l2.v1 message sampled and `book_seq` its number, so a replayed batch
-- maps to the same rows (ON CONFLICT DO NOTHING). Depth bands are flattened
-- per half-width (10, 25, 50 and 100 bps of the mid) for plain SQL and Grafana.
--
-- liquidity_anomalies: one row per liquidity.anomalies.v1 event, `phase`
-- started or ended; both phases of one crunch share `started_ts` (and
-- crunch_id). `evidence` holds the samples that met the rule as JSON.

CREATE TABLE liquidity_metrics (
    ts                    timestamptz      NOT NULL,
    exchange              text             NOT NULL,
    symbol                text             NOT NULL,
    book_seq              bigint           NOT NULL,
    venue_seq             bigint,
    best_bid              numeric,
    best_ask              numeric,
    mid                   numeric,
    microprice            numeric,
    spread_bps            double precision,
    bid_depth_10bps       numeric          NOT NULL,
    ask_depth_10bps       numeric          NOT NULL,
    bid_notional_10bps    numeric          NOT NULL,
    ask_notional_10bps    numeric          NOT NULL,
    bid_depth_25bps       numeric          NOT NULL,
    ask_depth_25bps       numeric          NOT NULL,
    bid_notional_25bps    numeric          NOT NULL,
    ask_notional_25bps    numeric          NOT NULL,
    bid_depth_50bps       numeric          NOT NULL,
    ask_depth_50bps       numeric          NOT NULL,
    bid_notional_50bps    numeric          NOT NULL,
    ask_notional_50bps    numeric          NOT NULL,
    bid_depth_100bps      numeric          NOT NULL,
    ask_depth_100bps      numeric          NOT NULL,
    bid_notional_100bps   numeric          NOT NULL,
    ask_notional_100bps   numeric          NOT NULL,
    bid_reach_bps         double precision NOT NULL,
    ask_reach_bps         double precision NOT NULL,
    imbalance             double precision CHECK (imbalance BETWEEN -1 AND 1),
    slippage_notional     numeric          NOT NULL,
    buy_slippage_bps      double precision,
    sell_slippage_bps     double precision,
    book_updates_per_s    double precision NOT NULL,
    trade_count           integer          NOT NULL,
    taker_buy_base        numeric          NOT NULL,
    taker_sell_base       numeric          NOT NULL,
    trade_flow_imbalance  double precision CHECK (trade_flow_imbalance BETWEEN -1 AND 1),
    spread_z              double precision,
    depth_z               double precision,
    cusum                 double precision NOT NULL,
    breach                boolean          NOT NULL,
    crunch_active         boolean          NOT NULL,
    receive_ts            timestamptz      NOT NULL,
    CONSTRAINT liquidity_metrics_pkey PRIMARY KEY (exchange, symbol, book_seq, ts)
);
CREATE INDEX liquidity_metrics_symbol_ts_idx ON liquidity_metrics (symbol, ts DESC);
COMMENT ON TABLE liquidity_metrics IS 'Sampled book liquidity (liquidity.metrics.v1), by default one row per book per second.';
COMMENT ON COLUMN liquidity_metrics.ts IS 'Venue event time of the book.l2.v1 message sampled.';
COMMENT ON COLUMN liquidity_metrics.spread_bps IS '(ask - bid) / mid in bps; NULL when a side is empty.';
COMMENT ON COLUMN liquidity_metrics.microprice IS 'Size-weighted mid: (bid * ask_qty + ask * bid_qty) / (bid_qty + ask_qty).';
COMMENT ON COLUMN liquidity_metrics.bid_depth_10bps IS 'Bid size within 10 bps of the mid, base units (likewise 25, 50, 100; notional columns in quote currency).';
COMMENT ON COLUMN liquidity_metrics.bid_reach_bps IS 'Distance of the deepest visible bid from the mid: wider bands are lower bounds.';
COMMENT ON COLUMN liquidity_metrics.imbalance IS '(bid - ask) / (bid + ask) base size over the top levels.';
COMMENT ON COLUMN liquidity_metrics.buy_slippage_bps IS 'VWAP of a market buy of slippage_notional above the mid, bps; NULL when the book is too thin.';
COMMENT ON COLUMN liquidity_metrics.trade_flow_imbalance IS '(buy - sell) / (buy + sell) taker base volume over the trade window.';
COMMENT ON COLUMN liquidity_metrics.spread_z IS 'Robust z-score of the spread against the samples before this one.';
COMMENT ON COLUMN liquidity_metrics.depth_z IS 'Robust z-score of ln(1 + notional within the rule''s band).';
COMMENT ON COLUMN liquidity_metrics.receive_ts IS 'When perpwatch received the venue message behind the book.';

CREATE TABLE liquidity_anomalies (
    ts              timestamptz      NOT NULL,
    exchange        text             NOT NULL,
    symbol          text             NOT NULL,
    phase           text             NOT NULL CHECK (phase IN ('started', 'ended')),
    crunch_id       text             NOT NULL,
    started_ts      timestamptz      NOT NULL,
    ended_ts        timestamptz,
    duration_s      double precision CHECK (duration_s >= 0),
    severity        text             NOT NULL CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    severity_score  double precision NOT NULL,
    peak_spread_z   double precision,
    peak_depth_z    double precision,
    samples         integer          NOT NULL,
    k               double precision NOT NULL,
    band_bps        integer          NOT NULL,
    sustain         integer          NOT NULL,
    end_after       integer          NOT NULL,
    evidence        jsonb            NOT NULL,
    receive_ts      timestamptz      NOT NULL,
    CONSTRAINT liquidity_anomalies_pkey PRIMARY KEY (exchange, symbol, started_ts, phase, ts)
);
CREATE INDEX liquidity_anomalies_symbol_ts_idx ON liquidity_anomalies (symbol, ts DESC);
COMMENT ON TABLE liquidity_anomalies IS 'Liquidity crunches started and ended (liquidity.anomalies.v1).';
COMMENT ON COLUMN liquidity_anomalies.ts IS 'Venue event time of the sample that declared the phase.';
COMMENT ON COLUMN liquidity_anomalies.started_ts IS 'First sample of the streak that met the rule.';
COMMENT ON COLUMN liquidity_anomalies.ended_ts IS 'First sample back inside the bounds (ended only).';
COMMENT ON COLUMN liquidity_anomalies.evidence IS 'The samples that met the rule (started) or came back inside it (ended), as JSON.';
