"""The real Binance USD-M capture as the liquidity service's inputs: ``book.l2.v1`` and ``md.trades.v1``.

The capture (../shared/data/hftbacktest/usdm/btcusdt_20240808.gz, 5.7 minutes of BTCUSDT) is
normalized by the real Binance normalizer, its book events go through the real book-builder
processor (50 levels, at most one ``book.l2.v1`` per 100 ms of event time, its defaults), and its
trades are kept as they are. Both streams are merged in the order perpwatch received them.
"""

import gzip
from functools import lru_cache
from pathlib import Path

import orjson
from aiokafka.structs import ConsumerRecord

from schemas.book import BookDepth
from schemas.common import ExchangeId
from schemas.market_data import BookDelta, BookSnapshot, Trade
from services.book_builder.service import BookBuilderProcessor
from services.instruments.catalog import load_snapshot
from services.runtime.service import Output
from services.runtime.settings import Settings
from services.venues import normalizer_for

KEY = b"binance_usdm:BTC-USDT-PERP"


@lru_cache(maxsize=2)
def binance_inputs(capture: Path) -> tuple[BookDepth | Trade, ...]:
    normalizer = normalizer_for(ExchangeId.BINANCE_USDM, load_snapshot())
    builder = BookBuilderProcessor(Settings(), catalog=load_snapshot())
    merged: list[tuple[int, int, BookDepth | Trade]] = []
    offset = 0
    with gzip.open(capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if raw.startswith(b'{"lastUpdateId"'):
                events = normalizer.normalize_rest_snapshot(orjson.loads(raw), "BTCUSDT", int(stamp))
            elif b"depthUpdate" in raw or b'"e":"trade"' in raw:
                events = normalizer.normalize(orjson.loads(raw), int(stamp))
            else:
                continue
            for event in events:
                if isinstance(event, Trade):
                    merged.append((event.receive_ts, len(merged), event))
                elif isinstance(event, BookSnapshot | BookDelta):
                    out = Output()
                    record = ConsumerRecord("md.book.v1", 0, offset, 0, 0, KEY, b"", None, 0, 0, ())
                    offset += 1
                    builder.handle(record, event, out)
                    for topic, published in out.events:
                        if topic == "book.l2.v1":
                            assert isinstance(published, BookDepth)
                            merged.append((published.receive_ts, len(merged), published))
    merged.sort(key=lambda item: (item[0], item[1]))
    return tuple(event for _, _, event in merged)
