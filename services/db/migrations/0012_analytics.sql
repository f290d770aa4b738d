-- 0012_analytics: outputs of the market-analytics service (services/analytics).
--
-- Base file: plain PostgreSQL, one transaction (rules: README.md in this folder).
-- Conventions as in 0001: `ts` is event time (a bar's or window's open time),
-- natural primary keys that include `ts`, so sinks insert with
-- ON CONFLICT DO NOTHING and a replayed batch changes nothing.

-- Bars (md.candles.v1) now carry the taker buy/sell split. NULL for rows
-- written before this migration or by a producer that does not split.
ALTER TABLE candles ADD COLUMN buy_volume numeric NULL;
ALTER TABLE candles ADD COLUMN sell_volume numeric NULL;
COMMENT ON COLUMN candles.buy_volume IS 'Base units bought by takers (aggressor buy) in the interval.';
COMMENT ON COLUMN candles.sell_volume IS 'Base units sold by takers (aggressor sell) in the interval.';

CREATE TABLE analytics_spikes (
    ts             timestamptz      NOT NULL,
    exchange       text             NOT NULL,
    symbol         text             NOT NULL,
    timeframe_s    integer          NOT NULL CHECK (timeframe_s > 0),
    metric         text             NOT NULL CHECK (metric IN ('log_volume', 'oi_change')),
    value          double precision NOT NULL,
    baseline_mean  double precision NOT NULL,
    baseline_std   double precision NOT NULL,
    z              double precision NOT NULL,
    threshold      double precision NOT NULL,
    window_bars    integer          NOT NULL,
    receive_ts     timestamptz      NOT NULL,
    CONSTRAINT analytics_spikes_pkey PRIMARY KEY (exchange, symbol, timeframe_s, metric, ts)
);
CREATE INDEX analytics_spikes_ts_idx ON analytics_spikes (ts DESC);
COMMENT ON TABLE analytics_spikes IS 'Volume and open-interest spikes (analytics.spikes.v1): one row per bar that fired.';
COMMENT ON COLUMN analytics_spikes.ts IS 'Open time of the bar that fired.';
COMMENT ON COLUMN analytics_spikes.metric IS 'log_volume: ln(base volume) of the bar; oi_change: change in open interest (base units) over the bar.';
COMMENT ON COLUMN analytics_spikes.baseline_mean IS 'Mean of the metric over the previous window_bars bars (this bar excluded).';
COMMENT ON COLUMN analytics_spikes.baseline_std IS 'Sample standard deviation of that baseline.';
COMMENT ON COLUMN analytics_spikes.z IS '(value - baseline_mean) / baseline_std.';
COMMENT ON COLUMN analytics_spikes.window_bars IS 'Bars in the baseline.';

CREATE TABLE analytics_flow_windows (
    ts            timestamptz NOT NULL,
    exchange      text        NOT NULL,
    symbol        text        NOT NULL,
    kind          text        NOT NULL CHECK (kind IN ('liquidation', 'large_trade')),
    side          text        NOT NULL CHECK (side IN ('buy', 'sell')),
    window_s      integer     NOT NULL CHECK (window_s > 0),
    count         integer     NOT NULL,
    quantity      numeric     NOT NULL,
    notional      numeric     NOT NULL,
    notional_usd  numeric     NULL,
    receive_ts    timestamptz NOT NULL,
    CONSTRAINT analytics_flow_windows_pkey PRIMARY KEY (exchange, symbol, kind, side, window_s, ts)
);
CREATE INDEX analytics_flow_windows_ts_idx ON analytics_flow_windows (ts DESC);
COMMENT ON TABLE analytics_flow_windows IS 'Liquidation and large-trade windows per venue, symbol and side (analytics.flow.v1).';
COMMENT ON COLUMN analytics_flow_windows.ts IS 'Window open time.';
COMMENT ON COLUMN analytics_flow_windows.side IS 'Liquidations: side of the liquidation order (sell = a long was liquidated). Large trades: taker side.';
COMMENT ON COLUMN analytics_flow_windows.quantity IS 'Base units.';
COMMENT ON COLUMN analytics_flow_windows.notional IS 'Quote currency.';
COMMENT ON COLUMN analytics_flow_windows.notional_usd IS 'Quote notional when the quote is USD or a USD stablecoin, else NULL.';

-- Cross-venue sums: venues arrive on different partitions, so they are summed
-- here rather than in a consumer, where the result would depend on arrival order.
CREATE VIEW analytics_flow_all_venues AS
SELECT ts, symbol, kind, side, window_s,
       sum(count) AS count,
       sum(quantity) AS quantity,
       sum(notional_usd) AS notional_usd,
       count(*) AS venues
FROM analytics_flow_windows
GROUP BY ts, symbol, kind, side, window_s;
COMMENT ON VIEW analytics_flow_all_venues IS 'Liquidation and large-trade windows summed across venues per symbol, kind, side and window.';

CREATE TABLE analytics_large_trades (
    ts             timestamptz NOT NULL,
    exchange       text        NOT NULL,
    symbol         text        NOT NULL,
    trade_id       text        NOT NULL,
    side           text        NOT NULL CHECK (side IN ('buy', 'sell')),
    price          numeric     NOT NULL,
    quantity       numeric     NOT NULL,
    notional_usd   numeric     NOT NULL,
    threshold_usd  numeric     NOT NULL,
    receive_ts     timestamptz NOT NULL,
    CONSTRAINT analytics_large_trades_pkey PRIMARY KEY (exchange, symbol, trade_id, ts)
);
CREATE INDEX analytics_large_trades_ts_idx ON analytics_large_trades (ts DESC);
COMMENT ON TABLE analytics_large_trades IS 'Trades at or above the symbol''s USD notional threshold (analytics.flow.v1 large_trade).';

CREATE TABLE analytics_pairs (
    ts              timestamptz      NOT NULL,
    pair            text             NOT NULL,
    interval_s      integer          NOT NULL CHECK (interval_s > 0),
    exchange_a      text             NOT NULL,
    symbol_a        text             NOT NULL,
    exchange_b      text             NOT NULL,
    symbol_b        text             NOT NULL,
    window_bars     integer          NOT NULL,
    observations    integer          NOT NULL,
    close_a         numeric          NOT NULL,
    close_b         numeric          NOT NULL,
    ols_beta        double precision NULL,
    ols_alpha       double precision NULL,
    kalman_beta     double precision NULL,
    spread          double precision NULL,
    spread_z        double precision NULL,
    correlation     double precision NULL,
    coint_pvalue    double precision NULL,
    half_life_bars  double precision NULL,
    null_reasons    jsonb            NOT NULL,
    CONSTRAINT analytics_pairs_pkey PRIMARY KEY (pair, interval_s, ts)
);
COMMENT ON TABLE analytics_pairs IS 'Pair analytics on aligned bar closes (analytics.pairs.v1); legs as natural-log closes.';
COMMENT ON COLUMN analytics_pairs.ts IS 'Open time of the aligned bars.';
COMMENT ON COLUMN analytics_pairs.spread IS 'ln(close_a) - (ols_alpha + ols_beta * ln(close_b)).';
COMMENT ON COLUMN analytics_pairs.null_reasons IS 'For each NULL statistic, why it could not be computed.';

-- Restart state of the analytics service, one row per input partition and
-- checkpoint. Rows are written in the same batch as the outputs they precede,
-- so a checkpoint below the committed offset is always consistent with them.
-- Old rows are deleted when a partition is restored, and by the retention
-- policy under TimescaleDB; only the latest below the committed offset is read.
CREATE TABLE analytics_checkpoints (
    ts          timestamptz NOT NULL,
    topic       text        NOT NULL,
    partition   integer     NOT NULL,
    end_offset  bigint      NOT NULL,
    state       jsonb       NOT NULL,
    CONSTRAINT analytics_checkpoints_pkey PRIMARY KEY (topic, partition, end_offset, ts)
);
COMMENT ON TABLE analytics_checkpoints IS 'Analytics service state after the record at end_offset of an input partition (restart without loss).';
COMMENT ON COLUMN analytics_checkpoints.ts IS 'Exchange time of the last event in the checkpoint (for retention).';
