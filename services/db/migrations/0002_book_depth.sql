-- 0002_book_depth: depth snapshots of validated books, written by the book-builder.
--
-- Base file: runs on plain PostgreSQL and on TimescaleDB, whole file in one
-- transaction (rules: README.md in this folder). TimescaleDB-only DDL lives in
-- 0002_book_depth.timescale.sql. Conventions as in 0001_market_data.sql.
--
-- One row is the top `depth` levels per side of a consistent book (never
-- crossed) at the venue update `venue_seq`, as parallel arrays best level
-- first: bid_prices[1] is the best bid. The book-builder writes at most one row
-- per book per second of venue event time, a subset of what it publishes on
-- book.l2.v1. The natural key (exchange, symbol, venue_seq, ts) makes a replay
-- or a restarted builder rewrite the same rows, so sinks insert with
-- ON CONFLICT DO NOTHING.

CREATE TABLE book_depth (
    ts          timestamptz NOT NULL,
    exchange    text        NOT NULL,
    symbol      text        NOT NULL,
    venue_seq   bigint      NOT NULL,
    book_seq    bigint      NOT NULL,
    depth       integer     NOT NULL CHECK (depth > 0),
    bid_prices  numeric[]   NOT NULL,
    bid_qtys    numeric[]   NOT NULL,
    ask_prices  numeric[]   NOT NULL,
    ask_qtys    numeric[]   NOT NULL,
    receive_ts  timestamptz NOT NULL,
    CONSTRAINT book_depth_pkey PRIMARY KEY (exchange, symbol, venue_seq, book_seq, ts),
    CONSTRAINT book_depth_bid_arrays CHECK (cardinality(bid_prices) = cardinality(bid_qtys)),
    CONSTRAINT book_depth_ask_arrays CHECK (cardinality(ask_prices) = cardinality(ask_qtys))
);
CREATE INDEX book_depth_symbol_ts_idx ON book_depth (symbol, ts DESC);
COMMENT ON TABLE book_depth IS 'Top levels of validated order books, at most one row per book per second.';
COMMENT ON COLUMN book_depth.ts IS 'Venue event time of the update the levels reflect.';
COMMENT ON COLUMN book_depth.venue_seq IS 'Venue update id (e.g. Binance u) the levels reflect.';
COMMENT ON COLUMN book_depth.book_seq IS 'book.l2.v1 message number of this book (book-builder counter).';
COMMENT ON COLUMN book_depth.depth IS 'Levels requested per side; a side may hold fewer.';
COMMENT ON COLUMN book_depth.bid_prices IS 'Bid prices in quote currency, best (highest) first.';
COMMENT ON COLUMN book_depth.bid_qtys IS 'Sizes in base units, aligned with bid_prices.';
COMMENT ON COLUMN book_depth.ask_prices IS 'Ask prices in quote currency, best (lowest) first.';
COMMENT ON COLUMN book_depth.ask_qtys IS 'Sizes in base units, aligned with ask_prices.';
COMMENT ON COLUMN book_depth.receive_ts IS 'When perpwatch received the venue message.';
