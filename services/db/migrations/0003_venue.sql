-- 0003_venue: perpwatch's own venue, its order events and trades, written by venue-recorder.
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). TimescaleDB-only DDL lives in
-- 0003_venue.timescale.sql. Conventions as in 0001_market_data.sql.
--
-- The matching engine has no clock: `ts` is the Kafka timestamp of the output
-- record (when the venue's transactional producer sent it), which is fixed once
-- the record is committed, so a re-delivered record maps to the same row.
-- `exchange` is always 'perpwatch' and `symbol` the venue symbol (e.g.
-- BTC-USDT). `seq` is the venue sequence, consecutive per command partition; a
-- symbol lives on one partition, so (symbol, seq) and (symbol, trade_id) are
-- natural keys and the recorder inserts with ON CONFLICT DO NOTHING.

CREATE TABLE venue_orders (
    ts                  timestamptz NOT NULL,
    exchange            text        NOT NULL,
    symbol              text        NOT NULL,
    seq                 bigint      NOT NULL,
    account             text        NOT NULL,
    client_order_id     text        NOT NULL,
    order_id            bigint,
    status              text        NOT NULL CHECK (status IN ('accepted', 'partially_filled', 'filled',
                                        'cancelled', 'expired', 'triggered', 'amended', 'rejected')),
    side                text        CHECK (side IN ('buy', 'sell')),
    order_type          text,
    tif                 text,
    price               numeric,
    stop_price          numeric,
    quantity            numeric,
    filled_quantity     numeric,
    remaining_quantity  numeric,
    cancelled_quantity  numeric,
    request             text,
    reason              text,
    CONSTRAINT venue_orders_pkey PRIMARY KEY (exchange, symbol, seq, ts)
);
CREATE INDEX venue_orders_client_idx ON venue_orders (account, client_order_id, ts DESC);
CREATE INDEX venue_orders_symbol_ts_idx ON venue_orders (symbol, ts DESC);
COMMENT ON TABLE venue_orders IS 'Order lifecycle events and rejected requests of the perpwatch venue.';
COMMENT ON COLUMN venue_orders.ts IS 'Kafka timestamp of the venue.events.v1 record.';
COMMENT ON COLUMN venue_orders.seq IS 'Venue sequence of the event (per command partition).';
COMMENT ON COLUMN venue_orders.order_id IS 'Venue order id; NULL on rejections.';
COMMENT ON COLUMN venue_orders.quantity IS 'Current total quantity in base units (after amends).';
COMMENT ON COLUMN venue_orders.remaining_quantity IS 'Still working; 0 when the order is terminal.';
COMMENT ON COLUMN venue_orders.request IS 'Rejections only: submit, cancel, amend or empty.';
COMMENT ON COLUMN venue_orders.reason IS 'Stable reason code of an expiry or rejection.';

CREATE TABLE venue_trades (
    ts              timestamptz NOT NULL,
    exchange        text        NOT NULL,
    symbol          text        NOT NULL,
    trade_id        bigint      NOT NULL,
    seq             bigint      NOT NULL,
    price           numeric     NOT NULL,
    quantity        numeric     NOT NULL,
    aggressor_side  text        NOT NULL CHECK (aggressor_side IN ('buy', 'sell')),
    maker_order_id  text        NOT NULL,
    taker_order_id  text        NOT NULL,
    maker_account   text        NOT NULL,
    taker_account   text        NOT NULL,
    maker_fee       numeric     NOT NULL,
    taker_fee       numeric     NOT NULL,
    CONSTRAINT venue_trades_pkey PRIMARY KEY (exchange, symbol, trade_id, ts)
);
CREATE INDEX venue_trades_symbol_ts_idx ON venue_trades (symbol, ts DESC);
COMMENT ON TABLE venue_trades IS 'Fills of the perpwatch venue, at the maker''s price.';
COMMENT ON COLUMN venue_trades.ts IS 'Kafka timestamp of the venue.trades.v1 record.';
COMMENT ON COLUMN venue_trades.maker_order_id IS 'Maker''s client order id.';
COMMENT ON COLUMN venue_trades.taker_order_id IS 'Taker''s client order id.';
COMMENT ON COLUMN venue_trades.maker_fee IS 'Quote currency, rounded toward +infinity; negative is a rebate.';
COMMENT ON COLUMN venue_trades.taker_fee IS 'Quote currency, rounded toward +infinity.';
