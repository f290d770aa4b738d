-- 0010_arbitrage: cross-venue opportunities and sampled spreads, written by the
-- arbitrage service (services/arbitrage).
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). TimescaleDB-only DDL lives in
-- 0010_arbitrage.timescale.sql.
--
-- A pair is ordered: buy on buy_exchange (symbol), sell on sell_exchange
-- (sell_symbol, the same as symbol unless the user opted in to cross-quote
-- pairs). Spreads are basis points of the pair's mid; "executable" ones are
-- walked through both books for each notional (quote units) and net of both
-- taker fees, NULL where a book was too thin. APRs are yearly fractions.
--
-- One arb_opportunities row per event on arb.opportunities.v1 (opened, updated,
-- closed); the natural key (opportunity_id, seq, ts) makes a replayed batch a
-- no-op. One arb_spreads row per event on arb.spreads.v1, at most one per pair
-- per sampling interval of event time, keyed by the pair and ts.

CREATE TABLE arb_opportunities (
    ts                        timestamptz NOT NULL,
    opportunity_id            text        NOT NULL,
    seq                       integer     NOT NULL CHECK (seq >= 0),
    event                     text        NOT NULL CHECK (event IN ('opened', 'updated', 'closed')),
    kind                      text        NOT NULL CHECK (kind IN ('spread', 'funding')),
    symbol                    text        NOT NULL,
    buy_exchange              text        NOT NULL,
    sell_exchange             text        NOT NULL,
    sell_symbol               text        NOT NULL,
    buy_quote                 text        NOT NULL,
    sell_quote                text        NOT NULL,
    first_seen_ts             timestamptz NOT NULL,
    opened_ts                 timestamptz NOT NULL,
    closed_ts                 timestamptz,
    duration_ms               bigint      CHECK (duration_ms >= 0),
    value_bps                 numeric     NOT NULL,
    peak_bps                  numeric     NOT NULL,
    peak_ts                   timestamptz NOT NULL,
    notional                  numeric,
    gross_spread_bps          numeric,
    notionals                 numeric[]   NOT NULL,
    executable_bps            numeric[]   NOT NULL,
    funding_differential_apr  numeric,
    buy_fee_bps               numeric     NOT NULL,
    sell_fee_bps              numeric     NOT NULL,
    reason                    text        NOT NULL DEFAULT '',
    CONSTRAINT arb_opportunities_pkey PRIMARY KEY (opportunity_id, seq, ts),
    CONSTRAINT arb_opportunities_arrays CHECK (cardinality(notionals) = cardinality(executable_bps)),
    CONSTRAINT arb_opportunities_closed CHECK ((event = 'closed') = (closed_ts IS NOT NULL))
);
CREATE INDEX arb_opportunities_symbol_ts_idx ON arb_opportunities (symbol, ts DESC);
CREATE INDEX arb_opportunities_pair_ts_idx ON arb_opportunities (buy_exchange, sell_exchange, ts DESC);
COMMENT ON TABLE arb_opportunities IS 'Lifecycle events of cross-venue opportunities (arb.opportunities.v1).';
COMMENT ON COLUMN arb_opportunities.ts IS 'Evaluation time: the newest venue event time seen for the symbol.';
COMMENT ON COLUMN arb_opportunities.opportunity_id IS 'kind:buy_exchange:symbol>sell_exchange:sell_symbol@opened_ns.';
COMMENT ON COLUMN arb_opportunities.seq IS '0 for opened, then +1 per event of the opportunity.';
COMMENT ON COLUMN arb_opportunities.value_bps IS 'spread: executable bps at the smallest notional; funding: differential APR in bps.';
COMMENT ON COLUMN arb_opportunities.notional IS 'spread: largest notional (quote units) still reaching the open threshold.';
COMMENT ON COLUMN arb_opportunities.executable_bps IS 'Executable spread per notional, NULL where a book was too thin.';
COMMENT ON COLUMN arb_opportunities.reason IS 'Why it closed: converged, too_thin or guard:<name>.';

CREATE TABLE arb_spreads (
    ts                        timestamptz NOT NULL,
    symbol                    text        NOT NULL,
    buy_exchange              text        NOT NULL,
    sell_exchange             text        NOT NULL,
    sell_symbol               text        NOT NULL,
    gross_spread_bps          numeric     NOT NULL,
    mid                       numeric     NOT NULL,
    notionals                 numeric[]   NOT NULL,
    executable_bps            numeric[]   NOT NULL,
    buy_funding_apr           numeric,
    sell_funding_apr          numeric,
    funding_differential_apr  numeric,
    buy_basis                 numeric,
    sell_basis                numeric,
    guard                     text        NOT NULL DEFAULT '',
    CONSTRAINT arb_spreads_pkey PRIMARY KEY (symbol, buy_exchange, sell_exchange, sell_symbol, ts),
    CONSTRAINT arb_spreads_arrays CHECK (cardinality(notionals) = cardinality(executable_bps))
);
CREATE INDEX arb_spreads_symbol_ts_idx ON arb_spreads (symbol, ts DESC);
COMMENT ON TABLE arb_spreads IS 'Sampled spreads per symbol and ordered venue pair (arb.spreads.v1), for charts.';
COMMENT ON COLUMN arb_spreads.guard IS 'The guard that would have blocked an opening at that time; empty if none.';

-- The opportunities open right now: the latest event of each that is not a close.
CREATE VIEW arb_open_opportunities AS
SELECT * FROM (
    SELECT DISTINCT ON (opportunity_id) *
    FROM arb_opportunities
    ORDER BY opportunity_id, seq DESC
) latest
WHERE event <> 'closed';
COMMENT ON VIEW arb_open_opportunities IS 'Latest event of every opportunity not closed yet.';
