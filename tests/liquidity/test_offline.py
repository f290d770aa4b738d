"""``perpwatch analyze liquidity FILE``: the processor over JSONL envelopes, offline."""

import io
from pathlib import Path

import orjson
import pytest

from schemas.book import BookDepth
from schemas.market_data import Trade
from services.liquidity.service import LiquiditySettings, build_processor
from services.runtime.offline import analyze
from tests.liquidity.realdata import binance_inputs
from tests.liquidity.simdata import Crunch, simulated_market
from tests.liquidity.support import metrics, run_processor


def _envelopes(events: list[BookDepth | Trade]) -> list[bytes]:
    return [
        orjson.dumps(
            {
                "topic": "book.l2.v1" if isinstance(e, BookDepth) else "md.trades.v1",
                "key": e.key,
                "event": orjson.loads(e.model_dump_json()),
            }
        )
        for e in events
    ]


def test_analyze_prints_samples_and_crunches_as_jsonl() -> None:
    events = list(simulated_market(1200, crunch=Crunch(at_step=900)))
    out = io.BytesIO()
    summary = analyze(build_processor(), _envelopes(events), out)
    lines = [orjson.loads(line) for line in out.getvalue().splitlines()]
    topics = [line["topic"] for line in lines]
    assert topics.count("liquidity.anomalies.v1") == 2
    assert topics.count("liquidity.metrics.v1") >= 115  # 120 seconds, the last ones wait for the grace
    assert summary.as_json()["rejected"] == {}
    started = next(line["event"] for line in lines if line["topic"] == "liquidity.anomalies.v1")
    assert started["phase"] == "started"
    assert started["symbol"] == "BTC-USDT-PERP"


def test_analyze_on_the_real_capture_matches_the_processor(
    binance_capture: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_CADENCE_MS", "5000")
    monkeypatch.setenv("PERPWATCH_LIQUIDITY_SLIPPAGE_NOTIONAL", "250000")
    events = list(binance_inputs(binance_capture))
    out = io.BytesIO()
    analyze(build_processor(), _envelopes(events), out)
    printed = [orjson.loads(line)["event"] for line in out.getvalue().splitlines()]
    direct = metrics(run_processor(events, LiquiditySettings(), finish=True))
    assert [p["exchange_ts"] for p in printed] == [m.exchange_ts for m in direct]
    assert all(p["slippage_notional"] == "250000" for p in printed)
    buckets = [p["exchange_ts"] // (5 * 10**9) for p in printed]
    assert buckets == sorted(set(buckets))  # one sample per 5 s bucket of exchange time
