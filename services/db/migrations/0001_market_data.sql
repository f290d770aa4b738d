-- 0001_market_data: raw market-data tables written by the sinks.
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). TimescaleDB-only DDL lives in
-- 0001_market_data.timescale.sql.
--
-- Conventions: every time column is timestamptz; `ts` is the venue's event
-- time and `receive_ts` when perpwatch received the message. `exchange` is the
-- venue id (schemas.common.ExchangeId, e.g. binance_usdm) and `symbol` the
-- canonical instrument id (e.g. BTC-USDT-PERP), as in the topic contracts.
-- Quantities are in base-asset units, prices and notionals in quote currency.
-- Every primary key is the record's natural key and includes `ts` (TimescaleDB
-- requires the time column in every unique index), so sinks insert with
-- ON CONFLICT DO NOTHING and replays are idempotent.

CREATE TABLE market_trades (
    ts          timestamptz NOT NULL,
    exchange    text        NOT NULL,
    symbol      text        NOT NULL,
    trade_id    text        NOT NULL,
    side        text        NOT NULL CHECK (side IN ('buy', 'sell')),
    price       numeric     NOT NULL,
    quantity    numeric     NOT NULL,
    notional    numeric     NOT NULL,
    receive_ts  timestamptz NOT NULL,
    CONSTRAINT market_trades_pkey PRIMARY KEY (exchange, symbol, trade_id, ts)
);
CREATE INDEX market_trades_symbol_ts_idx ON market_trades (symbol, ts DESC);
COMMENT ON TABLE market_trades IS 'Public trades, one row per venue trade.';
COMMENT ON COLUMN market_trades.ts IS 'Venue trade time.';
COMMENT ON COLUMN market_trades.exchange IS 'Venue id, e.g. binance_usdm (same meaning in every table).';
COMMENT ON COLUMN market_trades.symbol IS 'Canonical instrument id, e.g. BTC-USDT-PERP (same meaning in every table).';
COMMENT ON COLUMN market_trades.trade_id IS 'Venue trade id, unique per exchange and symbol.';
COMMENT ON COLUMN market_trades.side IS 'Taker (aggressor) side: buy or sell.';
COMMENT ON COLUMN market_trades.price IS 'Trade price in quote currency.';
COMMENT ON COLUMN market_trades.quantity IS 'Trade size in base units.';
COMMENT ON COLUMN market_trades.notional IS 'price * quantity (times contract multiplier) in quote currency.';
COMMENT ON COLUMN market_trades.receive_ts IS 'When perpwatch received the message.';

CREATE TABLE book_bbo (
    ts          timestamptz NOT NULL,
    exchange    text        NOT NULL,
    symbol      text        NOT NULL,
    venue_seq   bigint      NOT NULL,
    book_seq    bigint      NOT NULL,
    bid_price   numeric     NOT NULL,
    bid_qty     numeric     NOT NULL,
    ask_price   numeric     NOT NULL,
    ask_qty     numeric     NOT NULL,
    receive_ts  timestamptz NOT NULL,
    CONSTRAINT book_bbo_pkey PRIMARY KEY (exchange, symbol, venue_seq, book_seq, ts)
);
CREATE INDEX book_bbo_symbol_ts_idx ON book_bbo (symbol, ts DESC);
COMMENT ON TABLE book_bbo IS 'Best bid and offer after each top-of-book change.';
COMMENT ON COLUMN book_bbo.venue_seq IS 'Venue update sequence (update id) of the book change.';
COMMENT ON COLUMN book_bbo.book_seq IS 'perpwatch book-builder sequence for this exchange and symbol.';
COMMENT ON COLUMN book_bbo.bid_price IS 'Best bid price in quote currency.';
COMMENT ON COLUMN book_bbo.bid_qty IS 'Size at the best bid in base units.';
COMMENT ON COLUMN book_bbo.ask_price IS 'Best ask price in quote currency.';
COMMENT ON COLUMN book_bbo.ask_qty IS 'Size at the best ask in base units.';

CREATE TABLE funding_rates (
    ts               timestamptz NOT NULL,
    exchange         text        NOT NULL,
    symbol           text        NOT NULL,
    rate             numeric     NOT NULL,
    interval_s       integer     NOT NULL,
    next_funding_ts  timestamptz NOT NULL,
    mark_price       numeric     NULL,
    index_price      numeric     NULL,
    receive_ts       timestamptz NOT NULL,
    CONSTRAINT funding_rates_pkey PRIMARY KEY (exchange, symbol, ts)
);
CREATE INDEX funding_rates_symbol_ts_idx ON funding_rates (symbol, ts DESC);
COMMENT ON TABLE funding_rates IS 'Funding-rate observations (predicted or settled) per perpetual.';
COMMENT ON COLUMN funding_rates.rate IS 'Funding rate per funding interval, as a fraction (0.0001 = 1 bp).';
COMMENT ON COLUMN funding_rates.interval_s IS 'Funding interval in seconds.';
COMMENT ON COLUMN funding_rates.next_funding_ts IS 'Next funding settlement time.';
COMMENT ON COLUMN funding_rates.mark_price IS 'Mark price in quote currency, when the venue sends it.';
COMMENT ON COLUMN funding_rates.index_price IS 'Index price in quote currency, when the venue sends it.';

CREATE TABLE open_interest (
    ts                      timestamptz NOT NULL,
    exchange                text        NOT NULL,
    symbol                  text        NOT NULL,
    open_interest           numeric     NOT NULL,
    open_interest_notional  numeric     NULL,
    receive_ts              timestamptz NOT NULL,
    CONSTRAINT open_interest_pkey PRIMARY KEY (exchange, symbol, ts)
);
CREATE INDEX open_interest_symbol_ts_idx ON open_interest (symbol, ts DESC);
COMMENT ON TABLE open_interest IS 'Open-interest observations per perpetual.';
COMMENT ON COLUMN open_interest.open_interest IS 'Open interest in base units.';
COMMENT ON COLUMN open_interest.open_interest_notional IS 'Open interest in quote currency, when known.';

CREATE TABLE liquidations (
    ts          timestamptz NOT NULL,
    exchange    text        NOT NULL,
    symbol      text        NOT NULL,
    side        text        NOT NULL CHECK (side IN ('buy', 'sell')),
    price       numeric     NOT NULL,
    quantity    numeric     NOT NULL,
    notional    numeric     NOT NULL,
    receive_ts  timestamptz NOT NULL,
    -- Venues publish no liquidation id; the full observation is the key.
    CONSTRAINT liquidations_pkey PRIMARY KEY (exchange, symbol, ts, side, price, quantity)
);
CREATE INDEX liquidations_symbol_ts_idx ON liquidations (symbol, ts DESC);
-- Liquidation feeds are read across all symbols ("latest liquidations").
CREATE INDEX liquidations_ts_idx ON liquidations (ts DESC);
COMMENT ON TABLE liquidations IS 'Forced liquidation orders reported by venues.';
COMMENT ON COLUMN liquidations.side IS 'Side of the liquidation order: sell liquidates a long, buy a short.';
COMMENT ON COLUMN liquidations.price IS 'Order price in quote currency.';
COMMENT ON COLUMN liquidations.quantity IS 'Order size in base units.';
COMMENT ON COLUMN liquidations.notional IS 'price * quantity in quote currency.';

CREATE TABLE candles (
    ts           timestamptz NOT NULL,
    exchange     text        NOT NULL,
    symbol       text        NOT NULL,
    interval_s   integer     NOT NULL CHECK (interval_s > 0),
    open         numeric     NOT NULL,
    high         numeric     NOT NULL,
    low          numeric     NOT NULL,
    close        numeric     NOT NULL,
    volume       numeric     NOT NULL,
    notional     numeric     NOT NULL,
    trade_count  integer     NOT NULL,
    CONSTRAINT candles_pkey PRIMARY KEY (exchange, symbol, interval_s, ts)
);
CREATE INDEX candles_symbol_interval_ts_idx ON candles (symbol, interval_s, ts DESC);
COMMENT ON TABLE candles IS 'OHLCV candles built by perpwatch from trades.';
COMMENT ON COLUMN candles.ts IS 'Candle open time (start of the interval).';
COMMENT ON COLUMN candles.interval_s IS 'Candle length in seconds (60 = 1 minute), as interval_s on md.candles.v1.';
COMMENT ON COLUMN candles.open IS 'First trade price in quote currency.';
COMMENT ON COLUMN candles.volume IS 'Traded quantity in base units.';
COMMENT ON COLUMN candles.notional IS 'Traded notional in quote currency.';
COMMENT ON COLUMN candles.trade_count IS 'Number of trades in the interval.';
