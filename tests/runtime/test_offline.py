"""`perpwatch analyze`: a processor over envelope files gives what it gives through Kafka."""

import io
from pathlib import Path
from typing import Any

import orjson

from schemas.examples import EXAMPLES
from services.book_builder.service import BookBuilderProcessor
from services.cli.normalize import normalize_file
from services.market_recorder.service import MarketRecorder
from services.runtime.codec import event_key
from services.runtime.offline import analyze


def _envelopes(capture: Path) -> list[bytes]:
    buffer = io.BytesIO()
    normalize_file(capture, None, "hftbacktest", buffer)
    return buffer.getvalue().splitlines()


def test_book_builder_offline_matches_the_walking_skeleton(binance_capture: Path) -> None:
    out = io.BytesIO()
    summary = analyze(BookBuilderProcessor(), _envelopes(binance_capture), out)
    assert summary.inputs == {"md.book.v1": 6552}
    # The same figures the Kafka walking skeleton and `make up SOURCE=replay` give.
    assert summary.outputs == {"book.bbo.v1": 5672, "book.l2.v1": 3142}
    assert summary.rows["book_bbo"] == 5672
    first = orjson.loads(out.getvalue().splitlines()[0])
    assert set(first) == {"topic", "key", "event"}
    assert first["key"] == "binance_usdm:BTC-USDT-PERP"


def test_via_chains_services_and_bad_lines_are_counted() -> None:
    trade = EXAMPLES["md.trades.v1"]
    lines = [
        orjson.dumps(
            {"topic": "md.trades.v1", "key": event_key(trade), "event": orjson.loads(trade.model_dump_json())}
        ),
        orjson.dumps(
            {
                "topic": "md.trades.v1",
                "key": "okx:ETH-USDT-PERP",
                "event": orjson.loads(trade.model_dump_json()),
            }
        ),
        b"not json",
        orjson.dumps({"topic": "md.trades.v1", "key": "k", "event": {"price": "x"}}),
        orjson.dumps({"topic": "md.status.v1", "key": "k", "event": {}}),
    ]
    summary = analyze(MarketRecorder(), lines, io.BytesIO(), via=[BookBuilderProcessor()])
    assert summary.lines == 5
    assert summary.inputs == {"md.trades.v1": 3}
    assert summary.rows == {"market_trades": 1}
    assert summary.rejected == {"not_an_envelope": 1, "validation_error": 1, "key_mismatch": 1}
    assert summary.skipped == {"md.status.v1": 1}


def test_cli_views_and_service_options(tmp_path: Path, monkeypatch: Any) -> None:
    """`perpwatch analyze candles --interval 60` is analytics with one setting, printing one topic."""
    from typer.testing import CliRunner

    from services.cli.main import app

    # The CLI writes the options into os.environ (its process runs only that analysis): record
    # the variables' absence first so monkeypatch removes them again after the test.
    for name in ("PERPWATCH_ANALYTICS_BAR_INTERVALS_S", "PERPWATCH_ALERT_BUILTIN_RULES"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    trades = tmp_path / "trades.jsonl"
    lines = []
    for n in range(3):
        event = EXAMPLES["md.trades.v1"].model_copy(
            update={"trade_id": str(n), "exchange_ts": 1_700_000_000_000_000_000 + n * 61_000_000_000}
        )
        lines.append(
            orjson.dumps(
                {"topic": "md.trades.v1", "key": event.key, "event": orjson.loads(event.model_dump_json())}
            )
        )
    trades.write_bytes(b"\n".join(lines) + b"\n")
    runner = CliRunner()
    result = runner.invoke(app, ["analyze", "candles", str(trades), "--interval", "60"])
    assert result.exit_code == 0, result.output
    *events, summary = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert {e["topic"] for e in events} == {"md.candles.v1"}
    assert {e["event"]["interval_s"] for e in events} == {60}
    assert summary["summary"] == "analytics"
    assert set(summary["outputs"]) == {"md.candles.v1"}

    result = runner.invoke(app, ["analyze", "candles", str(trades), "--nope", "1"])
    assert result.exit_code == 2
    assert "no option --nope" in result.output

    result = runner.invoke(app, ["analyze", "alerts", str(trades)])
    assert result.exit_code == 2
    assert "--rules" in result.output
